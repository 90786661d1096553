// A real child process of a worker program, with its output captured so tests can wait for log lines.
import { expect } from "bun:test";
import type { Subprocess } from "bun";
import { waitFor } from "./redis";

const ROOT = new URL("../..", import.meta.url).pathname;

export const TEST_WORKER = `${ROOT}test/fixtures/test-worker.ts`;
export const MAIN_WORKER = `${ROOT}worker.ts`;

export interface WorkerProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  pid: number;
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  signal(sig: NodeJS.Signals): void;
  exited: Promise<number>;
}

/**
 * A wait that fails with the worker's log in its message (its last `chars` characters): what the worker saw
 * is the clue to a timeout.
 */
export function withOutput<T>(wait: Promise<T>, w: WorkerProcess | undefined, chars = 3000): Promise<T> {
  return wait.catch((e: unknown) => {
    throw new Error(`${(e as Error).message}\nworker output (last ${chars} characters):\n${w?.output().slice(-chars) ?? ""}`);
  });
}

// Every child a test starts; test/setup.ts kills those still alive after each test, so a failing test cannot
// leave a worker running against the shared Redis.
export const children = new Set<Subprocess>();

export function spawnWorker(args: string[], opts: { script?: string; env?: Record<string, string>; cmd?: string[]; cwd?: string } = {}): WorkerProcess {
  const cmd = opts.cmd ?? [process.execPath, opts.script ?? TEST_WORKER];
  const proc = Bun.spawn([...cmd, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: "1", ...opts.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  children.add(proc);
  void proc.exited.then(() => children.delete(proc));
  let out = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of s) out += dec.decode(chunk, { stream: true });
  };
  const pumped = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  return {
    proc,
    pid: proc.pid,
    output: () => out,
    waitForOutput: (pattern, timeoutMs = 15_000) => waitFor(() => pattern.test(out), timeoutMs, `output matching ${pattern}; got:\n${out}`).then(() => undefined),
    signal: (sig) => proc.kill(sig),
    exited: proc.exited.then(async (code) => {
      await pumped;
      return code;
    }),
  };
}

/** A worker process that has logged "started": registered and fetching. */
export async function startedWorker(args: string[], opts: Parameters<typeof spawnWorker>[1] = {}): Promise<WorkerProcess> {
  const w = spawnWorker(args, opts);
  await w.waitForOutput(/started/);
  return w;
}

/** TERM (after CONT, in case the test froze it), and the worker must exit 0: everything handed back. */
export async function terminateCleanly(w: WorkerProcess): Promise<void> {
  w.signal("SIGCONT");
  w.signal("SIGTERM");
  expect(await w.exited).toBe(0);
}

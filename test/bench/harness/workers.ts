// Worker processes under test: the default worker (bench-worker.ts, the real CLI) or the --worker-cmd run
// through sh -c with its placeholders filled in. Each runs in its own process group so that a supervisor's
// children and sh's children can be killed with it; the live set lets the entry kill every one of them on
// the way out (error, signal, --timeout). Output is kept (the tail) for error messages.
import type { Subprocess } from "bun";
import { BENCH_WORKER, ROOT, type Options } from "./options";
import { epochMs, log, within } from "./util";

export interface Worker {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  label: string;
  spawnedAt: number;
  exitedAt: number | null;
  code: number | null;
  exited: Promise<number>;
  output(): string;
}

export interface WorkerSpec {
  queues: string[];
  concurrency: number;
  processes?: number;
  exitOnComplete?: boolean;
  /** --interval for the default worker and the {interval} placeholder (default: none / 5). */
  interval?: number;
  /** Replaces the default argv (startup scenario). */
  argv?: string[];
}

function substitute(template: string, v: Record<string, string>): string {
  return template.replace(/\{(uri|host|port|queues|concurrency|processes|interval)\}/g, (_, k: string) => v[k] ?? "");
}

function workerArgv(opts: Options, spec: WorkerSpec, port: number): string[] {
  if (spec.argv) return spec.argv;
  const uri = `redis://127.0.0.1:${port}/`;
  if (opts.workerCmd !== undefined) {
    const values = { uri, host: "127.0.0.1", port: String(port), queues: spec.queues.join(","), concurrency: String(spec.concurrency), processes: String(spec.processes ?? 1), interval: String(spec.interval ?? 5) };
    return ["sh", "-c", substitute(opts.workerCmd, values)];
  }
  const argv = [process.execPath, BENCH_WORKER, `--queues=${spec.queues.join(",")}`, `--concurrency=${spec.concurrency}`, `--uri=${uri}`, "--log-level=warn"];
  if (spec.interval !== undefined) argv.push(`--interval=${spec.interval}`);
  // Extra worker flags (--worker-args, $BENCH_WORKER_ARGS), e.g. --connections=1 or --min-replicas=1.
  argv.push(...opts.workerArgs);
  if (spec.exitOnComplete) argv.push("--exit-on-complete");
  if ((spec.processes ?? 1) > 1) argv.push(`--processes=${spec.processes}`);
  return argv;
}

/** Reads stdout and stderr into one bounded buffer (the last 8-16 KB). */
function capture(proc: Subprocess<"ignore", "pipe", "pipe">): { output: () => string; done: Promise<unknown> } {
  let out = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    try {
      for await (const chunk of s) {
        out += dec.decode(chunk, { stream: true });
        if (out.length > 16_384) out = out.slice(-8_192);
      }
    } catch {
      /* the pipe closed */
    }
  };
  return { output: () => out, done: Promise.all([pump(proc.stdout), pump(proc.stderr)]) };
}

export class Workers {
  private readonly live = new Set<Worker>();

  constructor(private readonly opts: Options, private readonly port: number) {}

  spawn(spec: WorkerSpec, label: string): Worker {
    const argv = workerArgv(this.opts, spec, this.port);
    const spawnedAt = epochMs();
    const proc = Bun.spawn(argv, {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1" },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      detached: true, // own process group: cleanup reaches a supervisor's children and sh -c's children
    });
    const out = capture(proc);
    const w: Worker = { proc, label, spawnedAt, exitedAt: null, code: null, output: out.output, exited: Promise.resolve(0) };
    w.exited = proc.exited.then(async (code) => {
      w.exitedAt = epochMs();
      w.code = code;
      this.live.delete(w);
      await within(out.done, 1000);
      return code;
    });
    this.live.add(w);
    return w;
  }

  /** SIGKILL to the process group of every worker still running. */
  killAll(): void {
    for (const w of this.live) signalGroup(w, "SIGKILL");
    this.live.clear();
  }
}

function signalGroup(w: Worker, sig: NodeJS.Signals): void {
  try {
    process.kill(-w.proc.pid, sig);
  } catch {
    try {
      w.proc.kill(sig);
    } catch {
      /* gone */
    }
  }
}

/** SIGTERM to the worker (a supervisor forwards it), then to its group, then SIGKILL: bounded. */
export async function stopWorker(w: Worker, graceMs = 15_000): Promise<void> {
  if (w.exitedAt !== null) return;
  w.proc.kill("SIGTERM");
  if ((await within(w.exited, graceMs)) !== undefined) return;
  signalGroup(w, "SIGTERM");
  if ((await within(w.exited, 3000)) !== undefined) return;
  log(`${w.label}: did not stop after SIGTERM; SIGKILL`);
  signalGroup(w, "SIGKILL");
  await within(w.exited, 3000);
}

export function tail(w: Worker): string {
  return w.output().trim().split("\n").slice(-15).join("\n");
}

// --processes N|auto (issue #5): every core gets a worker process. The supervisor
// 1. starts N children running this same program with BUNWORKER_CHILD=1 (so they never supervise);
// 2. forwards TERM, INT, QUIT, USR2 and CONT to every child;
// 3. restarts a child that exits on its own, with backoff (1 s doubling to 30 s, reset after a minute up);
// 4. exits 0 when a stop signal was forwarded and every child has exited.
// A child killed outright leaves its jobs in Redis; the restarted child recovers them at start-up (its pid
// differs, so the reaper's dead-pid check does it).
import type { ConsolaInstance } from "consola/core";
import type { Subprocess } from "bun";

export const CHILD_ENV = "BUNWORKER_CHILD";

/** The command that re-runs this program: a compiled binary, or `bun <script>`. */
export function selfCommand(argv: readonly string[], execPath: string): string[] {
  const compiled = (argv[1] ?? "").startsWith("/$bunfs/");
  return compiled ? [execPath, ...argv.slice(2)] : [execPath, ...argv.slice(1)];
}

const FORWARD = ["SIGTERM", "SIGINT", "SIGQUIT", "SIGUSR2", "SIGCONT"] as const;

/** With `exitOnComplete`, a child that exits 0 by itself is done (its queues were empty), not restarted. */
export function supervise(count: number, cmd: string[], log: ConsolaInstance, exitOnComplete = false): Promise<number> {
  const children = new Map<number, Subprocess>();
  let stopping = false;
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finish = resolve));

  const spawn = (slot: number, delayMs: number) => {
    const startedAt = Date.now();
    const child = Bun.spawn({
      cmd,
      env: { ...process.env, [CHILD_ENV]: "1" },
      stdio: ["ignore", "inherit", "inherit"],
      onExit: (_p, code, signal) => {
        children.delete(slot);
        if (stopping || (exitOnComplete && code === 0 && !signal)) {
          if (children.size === 0) finish(0);
          return;
        }
        const next = Date.now() - startedAt > 60_000 ? 1000 : Math.min(30_000, Math.max(1000, delayMs * 2));
        log.warn(`worker process ${child.pid} exited (${signal ?? `status ${code}`}); restarting it in ${next / 1000} s`);
        setTimeout(() => !stopping && spawn(slot, next), next);
      },
    });
    children.set(slot, child);
  };

  const handlers = FORWARD.map((sig) => {
    const h = () => {
      if (sig !== "SIGUSR2" && sig !== "SIGCONT") stopping = true;
      for (const c of children.values()) c.kill(sig);
      if (stopping && children.size === 0) finish(0);
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  for (let i = 0; i < count; i++) spawn(i, 500);
  log.info(`supervising ${count} worker processes`);
  return done.finally(() => {
    for (const [sig, h] of handlers) process.off(sig, h);
  });
}

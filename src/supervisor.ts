// --processes N|auto (issue #5): every core gets a worker process. The supervisor
// 1. starts N children running this same program with BUNWORKER_CHILD=<the child's number, 1..N> (so they
//    never supervise), the Redis URI in their environment rather than their argv (which `ps` shows to every
//    user), and stdin a pipe it never writes to: when the supervisor dies, even by KILL, the kernel closes
//    it and every child stops gracefully (signals.ts) instead of running on as an orphan;
// 2. forwards TERM, INT, QUIT, USR2 and CONT to every child;
// 3. restarts a child that exits on its own, with backoff (1 s doubling to 30 s, reset after a minute up);
// 4. exits 0 when a stop signal was forwarded and every child has exited.
// A child killed outright leaves its jobs in Redis; the restarted child recovers them at start-up (its pid
// differs, so the reaper's dead-pid check does it).
import type { ConsolaInstance } from "consola/core";
import type { Subprocess } from "bun";
import { withoutFlag } from "./cli";

export const CHILD_ENV = "BUNWORKER_CHILD";
/** The --uri a supervisor hands its children: an environment variable is readable by its owner only. */
export const URI_ENV = "BUNWORKER_URI";

/** The command that re-runs this program with `flags`: a compiled binary, or `bun <script>`. */
export function selfCommand(argv: readonly string[], execPath: string, flags: readonly string[] = argv.slice(2)): string[] {
  const compiled = (argv[1] ?? "").startsWith("/$bunfs/");
  return compiled ? [execPath, ...flags] : [execPath, ...argv.slice(1, 2), ...flags];
}

/** How children are started: the command, and what they get through the environment instead of argv. */
export interface ChildLaunch {
  cmd: string[];
  env: Record<string, string>;
}

/** For the command-line mode: the same flags without --uri, which travels in URI_ENV. */
export function commandLineChildren(argv: readonly string[], execPath: string, uri: string): ChildLaunch {
  return { cmd: selfCommand(argv, execPath, withoutFlag(argv.slice(2), "uri")), env: { [URI_ENV]: uri } };
}

/**
 * In a child: the URI its supervisor handed down, removed from the environment once read so that job code
 * (which may log process.env) and the processes it starts never see it.
 */
export function takeInheritedUri(env: Record<string, string | undefined> = process.env): string | undefined {
  if (!env[CHILD_ENV]) return undefined;
  const uri = env[URI_ENV];
  delete env[URI_ENV];
  return uri || undefined;
}

export interface SuperviseOptions {
  /** A child that exits 0 by itself is done (its queues were empty), not restarted. */
  exitOnComplete?: boolean;
}

const FORWARD = ["SIGTERM", "SIGINT", "SIGQUIT", "SIGUSR2", "SIGCONT"] as const;

export function supervise(count: number, launch: ChildLaunch, log: ConsolaInstance, { exitOnComplete = false }: SuperviseOptions = {}): Promise<number> {
  const children = new Map<number, Subprocess>();
  let stopping = false;
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finish = resolve));

  const spawn = (slot: number, delayMs: number) => {
    const startedAt = Date.now();
    const child = Bun.spawn({
      cmd: launch.cmd,
      // The child's number (1..count): a --metrics-port child listens on the port plus its number minus one.
      env: { ...process.env, ...launch.env, [CHILD_ENV]: String(slot + 1) },
      // stdin: the pipe whose end tells the child that this process is gone (never written to).
      stdio: ["pipe", "inherit", "inherit"],
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

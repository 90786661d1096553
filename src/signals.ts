// Process signals -> launcher actions (Resque's meanings, reference section 7):
// TERM, INT, QUIT: graceful stop; the same again: hand running jobs back now; USR2 / CONT: pause / resume.
// A child of --processes also stops gracefully when its supervisor is gone (its stdin pipe closes).
// Hostile job code (an unhandled rejection, a throw from a timer) is reported and never ends the process; a throw
// that came from a running job fails that job (job-guard.ts, issue #14).
import { fstatSync } from "node:fs";
import type { ConsolaInstance } from "consola/core";
import type { StopMode } from "./launcher";

export interface Stoppable {
  stop(mode: StopMode): void;
  hold(held: boolean): void;
  /** An uncaught exception: true when a running job was failed for it (job-guard.ts), so it is not logged here. */
  uncaught?(e: unknown): boolean;
}

// A child of --processes gets a group-wide signal twice: once from the terminal, systemd or Heroku (which
// signal the whole process group) and once forwarded by the supervisor. Within this window the copy is not
// a "second signal", or a plain Ctrl-C would hand running jobs back instead of letting them finish.
const DUPLICATE_SIGNAL_MS = 1000;

/** Installs the handlers; returns a function that removes them. */
export function installSignals(target: Stoppable, log: ConsolaInstance, supervised: boolean): () => void {
  let stops = 0;
  let lastStop = 0;
  const stop = (sig: string) => () => {
    if (supervised && stops > 0 && Date.now() - lastStop < DUPLICATE_SIGNAL_MS) return;
    lastStop = Date.now();
    stops++;
    log.info(`${sig} received${stops > 1 ? " again: handing running jobs back now" : ""}`);
    target.stop(stops > 1 ? "now" : "graceful");
  };
  // A supervisor that dies while its children drain after a TERM does not cut their drain short.
  const orphaned = () => {
    if (stops > 0) return;
    lastStop = Date.now();
    stops++;
    log.warn("the supervisor process is gone: stopping as on TERM");
    target.stop("graceful");
  };
  const handlers: [string, (...a: unknown[]) => void][] = [
    ["SIGTERM", stop("TERM")], ["SIGINT", stop("INT")], ["SIGQUIT", stop("QUIT")],
    ["SIGUSR2", () => (log.info("USR2 received: pausing (CONT resumes)"), target.hold(true))],
    ["SIGCONT", () => (log.info("CONT received: resuming"), target.hold(false))],
    // Hostile job code must not take the worker down (issue #4): report and keep running.
    ["unhandledRejection", (r: unknown) => log.warn(`unhandled rejection in job code: ${r instanceof Error ? `${r.name}: ${r.message}` : String(r)}`)],
    ["uncaughtException", (e: unknown) => target.uncaught?.(e) || log.error(`uncaught exception in job code: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`)],
  ];
  for (const [ev, h] of handlers) process.on(ev as "SIGTERM", h);
  const unwatch = supervised ? watchSupervisor(orphaned) : () => {};
  return () => {
    unwatch();
    for (const [ev, h] of handlers) process.off(ev as "SIGTERM", h);
  };
}

function stdinIsPipe(): boolean {
  try {
    const st = fstatSync(0);
    return st.isFIFO() || st.isSocket();
  } catch {
    return false;
  }
}

/**
 * The supervisor gives each child a stdin pipe it never writes to and holds the other end for life; the
 * kernel closes that end when the supervisor dies, however it dies (KILL and OOM included), so end of input
 * means "supervisor gone" at once, with no polling and no race at start-up (the pipe exists before the
 * child does). Any other stdin (/dev/null, a terminal: a child started by hand) is left alone.
 * Returns a function that stops watching, so that the watch never keeps a stopped worker's process alive.
 */
function watchSupervisor(gone: () => void): () => void {
  if (!stdinIsPipe()) return () => {};
  const reader = Bun.stdin.stream().getReader();
  let watching = true;
  void (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // a read error is an end of input as well
    }
    if (watching) gone();
  })();
  return () => {
    watching = false;
    reader.cancel().catch(() => {});
  };
}

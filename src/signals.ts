// Process signals -> launcher actions (Resque's meanings, reference section 7):
// TERM, INT, QUIT: graceful stop; the same again: hand running jobs back now; USR2 / CONT: pause / resume.
// Hostile job code (an unhandled rejection, a throw from a timer) is reported and never ends the process.
import type { ConsolaInstance } from "consola/core";
import type { StopMode } from "./launcher";

export interface Stoppable {
  stop(mode: StopMode): void;
  hold(held: boolean): void;
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
  const handlers: [string, (...a: unknown[]) => void][] = [
    ["SIGTERM", stop("TERM")], ["SIGINT", stop("INT")], ["SIGQUIT", stop("QUIT")],
    ["SIGUSR2", () => (log.info("USR2 received: pausing (CONT resumes)"), target.hold(true))],
    ["SIGCONT", () => (log.info("CONT received: resuming"), target.hold(false))],
    // Hostile job code must not take the worker down (issue #4): report and keep running.
    ["unhandledRejection", (r: unknown) => log.warn(`unhandled rejection in job code: ${r instanceof Error ? `${r.name}: ${r.message}` : String(r)}`)],
    ["uncaughtException", (e: unknown) => log.error(`uncaught exception in job code: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`)],
  ];
  for (const [ev, h] of handlers) process.on(ev as "SIGTERM", h);
  return () => {
    for (const [ev, h] of handlers) process.off(ev as "SIGTERM", h);
  };
}

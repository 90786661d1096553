// What every component of one worker process shares (Sidekiq's component / River's base service): the
// resolved config (keys, logger, clock, durations), identity, the outage reporter and the hard-stop signal.
// Passed in, never global.
import type { Config } from "./config";
import type { Outage } from "./retry";

export interface WorkerContext {
  readonly config: Config;
  /** "host:pid:instance": names this process's registry entry and lanes hash. */
  readonly proc: string;
  readonly host: string;
  readonly outage: Outage;
  /** Aborted when waiting must end at once (second signal, close()): retries stop. */
  readonly hardStop: AbortSignal;
}

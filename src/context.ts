// What every component of one worker process shares (Sidekiq's component / River's base service): settings,
// keys, identity, logger, the outage reporter and the hard-stop signal. Passed in, never global.
import type { ConsolaInstance } from "consola/core";
import type { Keys } from "./keys";
import type { RedisTarget } from "./redis";
import type { Outage } from "./retry";
import type { Settings } from "./settings";

export interface WorkerContext {
  readonly settings: Settings;
  readonly keys: Keys;
  readonly target: RedisTarget;
  /** "host:pid": names this process's registry entry, lanes hash and landing lists. */
  readonly proc: string;
  readonly host: string;
  readonly log: ConsolaInstance;
  readonly outage: Outage;
  /** Aborted when waiting must end at once (second signal, close()): retries stop. */
  readonly hardStop: AbortSignal;
  readonly now: () => Date;
}

// The retry section of lane-cycle-6.lua's ARGV (issue #17; the layout is described in lua/include-retry.lua):
// what scripts.ts appends for a call that carries done/retry/giveup acks, and only then.
import type { Keys } from "./keys";

/** resque-retry's writes for one acknowledged attempt (fields of include-retry.lua's retry section). */
export interface RetryAck {
  /** resque-retry:<Class>[:<sha1>], namespaced: the attempt counter. */
  counter: string;
  /** failure-<counter>, namespaced: the last intermediate failure, while retrying. */
  failureKey: string;
  /** For "retry": a delayed item at `ts`, or straight to the queue (delay 0, as resque-retry's enqueue_to). */
  mode: "" | "delay" | "queue";
  ts: string;
  /** The bucket item {"class","args","queue"} (delay) or the queue payload {"class","args"} (queue). */
  item: string;
  queue: string;
  /** The failure-<counter> value, "" for none (resque-retry writes it only for a delay > 0). */
  entry: string;
  ttl: number;
  /** Seconds for EXPIRE on the counter (resque-retry's expire_retry_key_after + delay), or null. */
  expire: number | null;
}

/** The retry section (include-retry.lua), only when a call carries done/retry/giveup acks. */
export function pushRetries(args: (string | number)[], keys: Keys, ops: readonly { outcome: string; retry?: RetryAck }[]): void {
  let shared = false;
  for (const op of ops) {
    if (!op.retry || (op.outcome !== "done" && op.outcome !== "retry" && op.outcome !== "giveup")) continue;
    if (!shared) args.push(keys.delayedPrefix, keys.timestampsPrefix, keys.delayedSchedule, keys.queues);
    shared = true;
    const r = op.retry;
    args.push(r.counter, r.failureKey, r.mode, r.ts, r.item, r.queue, r.entry, r.ttl, r.expire === null ? "" : r.expire);
  }
}

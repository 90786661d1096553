// A lent slot's pickup (pickup-5.lua), sent by a blocker behind its BLMOVE or by a lane for a notification:
// one job from one queue into the slot's worker:<id>, with its token; with --min-replicas, only once replicated.
import type { RedisClient } from "bun";
import type { WorkerContext } from "./context";
import type { Slot } from "./lane";
import { replicated } from "./replicas";
import { runAt } from "./resque-time";
import { pickup, type PickedJob } from "./scripts";

/** A pickup's answer (pickup-5.lua): the job it took with its token and queue, null (none), or "skip". */
export type Pickup = (PickedJob & { token: string; queue: string }) | null | "skip";

/**
 * Sends the pickup of one job from `queue` into the lent `slot` on `c` now, in the caller's tick, so that it is
 * pipelined behind whatever the caller sent just before (a blocker's BLMOVE).
 */
export function sendPickup(ctx: WorkerContext, c: RedisClient, slot: Slot, queue: string, token: string): Promise<Pickup> {
  const { config, proc } = ctx;
  const n = config.minReplicas;
  return pickup(c, config.keys, { proc, queue, id: slot.id, slot: slot.no, token, runAt: runAt(config.clock.now()) }).then(async (job) => {
    if (!job || job === "skip") return job;
    // --min-replicas: not replicated in time, this rejects, and the slot comes back unsure (its lane fetches).
    if (n) await replicated(c, n);
    return { ...job, token, queue };
  });
}


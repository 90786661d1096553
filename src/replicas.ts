// --min-replicas (issue #14): a write counts as done only once it has reached N replicas (Redis WAIT). The
// lanes and pickups call this after their script, before any job they took starts: a failover then loses
// neither a fetch (the job would run again from its queue) nor the acks sent with it (their jobs would run
// again from their states). A call that is not replicated in time is sent again on a new connection, which
// after a failover is the new primary: the call number makes that resend apply at most once. Without N
// replicas (a primary killed and not yet back as a replica) no job starts: that wait is logged once, not as
// an outage.
import type { RedisClient } from "bun";
import type { ConsolaInstance } from "consola/core";

/** How long one WAIT may take before the call is sent again. */
export const WAIT_MS = 1000;

/** The write did not reach --min-replicas replicas in time: the call is sent again (never a job started twice). */
export class NotReplicatedError extends Error {
  override name = "NotReplicatedError";
}

/** Says once that jobs wait for replicas, and once that they caught up. */
export class ReplicaWait {
  private since = 0;
  constructor(private readonly log: ConsolaInstance) {}

  lagging(e: NotReplicatedError): void {
    if (this.since) return;
    this.since = Date.now();
    this.log.warn(`${e.message}: no job starts until its fetch is on enough replicas (--min-replicas); sending it again`);
  }

  caughtUp(): void {
    if (!this.since) return;
    this.log.info(`replicas caught up after ${((Date.now() - this.since) / 1000).toFixed(1)} s: jobs start again`);
    this.since = 0;
  }
}

/** Resolves once this client's writes so far are on `n` replicas; rejects with NotReplicatedError after WAIT_MS. */
export async function replicated(c: RedisClient, n: number): Promise<void> {
  if (n <= 0) return;
  const got = Number(await c.send("WAIT", [String(n), String(WAIT_MS)]));
  if (got < n) throw new NotReplicatedError(`the write reached ${got} of --min-replicas=${n} replicas within ${WAIT_MS} ms`);
}

const shared = new WeakMap<ConsolaInstance, ReplicaWait>();

/** One reporter per worker process (per logger): its lanes wait for the same replicas. */
export function replicaWait(log: ConsolaInstance): ReplicaWait {
  let w = shared.get(log);
  if (!w) shared.set(log, (w = new ReplicaWait(log)));
  return w;
}

// --min-replicas (issue #14): a write counts as done only once it has reached N replicas (Redis WAIT). The
// lanes and pickups call this after their script, before any job they took starts: a failover then loses
// neither a fetch (the job would run again from its queue) nor the acks sent with it (their jobs would run
// again from their states). A call that is not replicated in time is sent again on a new connection, which
// after a failover is the new primary: the call number makes that resend apply at most once.
import type { RedisClient } from "bun";
import { ConnectionError } from "./errors";

/** How long one WAIT may take before the call is sent again. */
export const WAIT_MS = 1000;

/** The write did not reach --min-replicas replicas in time: transient (retried on a new connection). */
export class NotReplicatedError extends ConnectionError {
  override name = "NotReplicatedError";
}

/** Resolves once this client's writes so far are on `n` replicas; rejects with NotReplicatedError after WAIT_MS. */
export async function replicated(c: RedisClient, n: number): Promise<void> {
  if (n <= 0) return;
  const got = Number(await c.send("WAIT", [String(n), String(WAIT_MS)]));
  if (got < n) throw new NotReplicatedError(`the write reached ${got} of --min-replicas=${n} replicas within ${WAIT_MS} ms`);
}

// A Redis that may evict keys under memory pressure loses jobs silently: queued jobs, running jobs' worker:<id>
// records, registrations (issue #14: 80 of 100 jobs gone under allkeys-lru, a common managed-Redis default).
// At start the worker reads the policy once (INFO memory, which managed services allow where CONFIG GET is
// often denied) and, as Sidekiq does, warns in one line naming the policy, what it can lose and the fix.
// bunworker's keys have no TTL, so volatile-* policies (which evict only keys with one) cannot touch them.
import type { ConsolaInstance } from "consola/core";
import type { RedisConn } from "./redis";

/** Whether `policy` can evict a key without a TTL. */
export function evictsOurKeys(policy: string): boolean {
  return policy.startsWith("allkeys-");
}

/** The policy from an INFO reply, or null. */
export function maxmemoryPolicy(info: string): string | null {
  return /^maxmemory_policy:(\S+)/m.exec(info)?.[1] ?? null;
}

/** One warning when the server can evict our keys; never throws (a denied INFO just says nothing). */
export async function warnIfEvicting(conn: RedisConn, log: ConsolaInstance, display: string): Promise<void> {
  let info: unknown;
  try {
    info = await conn.run((c) => c.send("INFO", ["memory"]), "INFO memory");
  } catch {
    return;
  }
  const policy = maxmemoryPolicy(String(info));
  if (!policy || !evictsOurKeys(policy)) return;
  log.warn(`Redis at ${display} has maxmemory-policy ${policy}: under memory pressure it evicts any key, so queued jobs, running jobs' worker:<id> records and worker registrations can be lost; set maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf)`);
}

// resque-scheduler's master lock (reference section 2.4, 6 (d)), as bunworker holds it. The lock itself is taken,
// renewed and checked inside promote-4.lua, in the same atomic step as the moves it guards (a fence): a
// promoter that stalled past its hold cannot promote, since the script finds another holder and moves nothing.
// This module names our value and decides whether a holder on this host is a dead predecessor.
import { readProcStat, type ProcStat } from "./identity";

// The numbers are set by two bounds: a dead holder is replaced within 30 s (TTL + STANDBY_MS), and an idle
// worker, promoter included, sends at most one command a second (bench "idle"; script-internal commands count).
/** How long a hold lasts without renewal. Ruby's is 180 s; ours is short so a dead holder is replaced within 30 s. */
export const LOCK_TTL_MS = 26_000;
/** A holder renews at its first wake this long after the last renewal: at most RENEW_MS + POLL_MS (22 s) apart. */
export const RENEW_MS = 17_000;
/** The holder looks at the schedule at least this often (and every --interval when that is shorter). */
export const POLL_MS = 5_000;
/** A process that does not hold the lock tries to take it this often (one SET NX): a lapsed hold is taken within TTL + this = 30 s. */
export const STANDBY_MS = 4_000;

/**
 * "<host>:<pid>:<instance>": Ruby's "<host>:<pid>", made unique per process start (two containers may share a
 * hostname and a pid). Ruby only compares the value with its own and shows it in resque-web.
 */
export function lockValue(host: string, pid: number, instance: string): string {
  return `${host}:${pid}:${instance}`;
}

/**
 * The holder's value when it names a process on this host (ours, "host:pid:instance", or a Ruby scheduler's,
 * "host:pid") whose pid no longer runs: a restart here takes the lock over at once instead of waiting for it to
 * lapse. "" otherwise. A holder in another pid namespace under the same hostname could be judged dead wrongly;
 * the fence in promote-4.lua makes that a handover, never two promoters.
 */
export function deadPredecessor(holder: string | null, host: string, selfPid: number, stat: (pid: number) => ProcStat | null = readProcStat): string {
  if (!holder || !holder.startsWith(`${host}:`)) return "";
  const m = /^(\d+)(?::|$)/.exec(holder.slice(host.length + 1));
  if (!m) return "";
  const pid = Number(m[1]);
  if (pid === selfPid) return "";
  const now = stat(pid);
  return !now || now.state === "Z" || now.state === "X" ? holder : "";
}

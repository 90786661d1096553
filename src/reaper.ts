// Dead-worker recovery (issues #4, #9). Every heartbeat returns every process's beat (heartbeat-4.lua), so
// recovery costs no Redis command of its own. A bunworker process is dead when
// 1. its pid can be judged from here (same boot and pid namespace, identity.ts) and that process is gone,
//    a zombie, or a newer process with the same pid: known at once, so a restarted worker recovers its
//    predecessor's jobs at start-up; or
// 2. its beat, stamped with the Redis clock, is older than the validity the beat itself carries (its owner's
//    --dead-after; ours for beats without one), and its pid cannot be judged from here (frozen, killed on
//    another host or in another pid namespace, or partitioned away), or it can and the process is stopped
//    (SIGSTOP, state T).
// A process that is there by its pid and not stopped is never released, however late its beat (issue #14: a job
// that blocks the event loop delays the main thread's beats; the beat thread, beat-thread.js, keeps them going
// for workers that cannot see the pid). Its in-flight jobs go back to the front of
// their queues (or become failure entries with --dead-jobs=fail), and its ids are unregistered, in one atomic
// script that is harmless to run twice, so several workers may find the same dead process without a lock.
// Resque's own prune lock is not taken: a Ruby worker holding it must not delay our recovery. Workers that are
// not bunworker processes are left to Resque's own prune.
import type { WorkerContext } from "./context";
import { liveness, parseBeat, readProcStat, type Identity, type ProcStat } from "./identity";
import type { RedisConn } from "./redis";
import { failedAt } from "./resque-time";
import { CRASH_LIMIT, releaseProcess, type Released } from "./scripts";
import type { DeadJobPolicy } from "./settings";

export interface Self {
  proc: string;
  identity: Identity;
}

/** Which processes in a beats hash are dead: pure, so it can be tested without processes or clocks. */
export function deadProcesses(beats: Record<string, string>, nowMs: number, deadAfterMs: number, self: Self, stat: (pid: number) => ProcStat | null = readProcStat): string[] {
  return Object.entries(beats)
    .filter(([proc]) => proc !== self.proc)
    .filter(([, value]) => {
      const beat = parseBeat(value);
      const expired = nowMs - beat.ms > (beat.validMs ?? deadAfterMs);
      const judged = beat.identity ? liveness(beat.identity, self.identity, stat) : "unknown";
      if (judged === "dead") return true;
      if (judged === "alive") return false;
      return expired;
    })
    .map(([proc]) => proc);
}

export class Reaper {
  constructor(
    private readonly ctx: WorkerContext,
    private readonly conn: RedisConn,
    private readonly self: Self,
  ) {}

  /** Hand back and unregister one process's jobs and ids; `dead`: it died, so its jobs count a death each. */
  release(proc: string, mode: DeadJobPolicy, dead = false): Promise<Released> {
    const { config } = this.ctx;
    const input = { proc, mode, failedAt: failedAt(config.clock.now()), crashLimit: dead ? CRASH_LIMIT : 0 };
    return this.conn.run((c) => releaseProcess(c, config.keys, input), "release", config.commandTimeoutMs * 3);
  }

  /** Release every dead process among `beats` (never this one); resolves to how many were released here. */
  async reap(beats: Record<string, string>, nowMs: number): Promise<number> {
    const { config } = this.ctx;
    let released = 0;
    for (const proc of deadProcesses(beats, nowMs, config.deadAfterMs, this.self)) {
      const r = await this.release(proc, config.deadJobs, true);
      // Another worker may have released it a moment ago: only the one that did says so.
      if (r.unregistered === 0 && r.requeued === 0 && r.failed === 0) continue;
      released++;
      config.log.warn(`worker process ${proc} is dead: ${r.requeued} job(s) back to their queues, ${r.failed} failed, its workers unregistered`);
    }
    return released;
  }
}

// Dead-worker recovery (issue #4). A bunworker process is dead when
// 1. it ran on this host and its pid no longer exists (known at once, so a restarted worker recovers its
//    predecessor's jobs at start-up), or
// 2. its beat, stamped with the Redis clock, is older than --dead-after.
// Its in-flight and landed jobs go back to the front of their queues (or become failure entries with
// --dead-jobs=fail), and its ids are unregistered, in one atomic script. Periodic runs take Resque's own
// prune lock so a fleet does not all scan at once; the script is idempotent, so the lock is an economy,
// not a safety device. Workers that are not bunworker processes are left to Resque's own prune.
import type { WorkerContext } from "./context";
import type { DeadJobPolicy } from "./settings";
import { Periodic } from "./periodic";
import type { RedisConn } from "./redis";
import { failedAt } from "./resque-time";
import { sleep } from "./retry";
import { releaseProcess, unlock } from "./scripts";

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

/** Which registered processes are dead: pure, so it can be tested without processes or clocks. */
export function deadProcesses(procs: string[], beats: Record<string, string>, nowMs: number, deadAfterMs: number, host: string, alive: (pid: number) => boolean): string[] {
  return procs.filter((proc) => {
    const colon = proc.lastIndexOf(":");
    const procHost = proc.slice(0, colon);
    const pid = Number(proc.slice(colon + 1));
    if (procHost === host && Number.isInteger(pid) && !alive(pid)) return true;
    const beat = Number(beats[proc] ?? 0);
    return nowMs - beat > deadAfterMs;
  });
}

// At start-up a held lock only delays us this long: a worker restarted after a crash must recover now.
const START_LOCK_TRIES = 10;
const START_LOCK_WAIT_MS = 100;

export class Reaper {
  private readonly periodic: Periodic;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly conn: RedisConn,
  ) {
    // Every two heartbeats: 30 s by default, which keeps an idle worker under one Redis command a second.
    this.periodic = new Periodic(ctx.config.heartbeatMs * 2, () => this.locked(false), (e) => ctx.outage.failed(e));
  }

  /** Hand back and unregister one process's jobs and ids. */
  release(proc: string, mode: DeadJobPolicy): Promise<{ requeued: number; failed: number }> {
    const { config } = this.ctx;
    const input = { proc, mode, failedAt: failedAt(config.clock.now()) };
    return this.conn.run((c) => releaseProcess(c, config.keys, input), "release", config.commandTimeoutMs * 3);
  }

  /** Find dead processes (never this one) and release them; returns how many were found. */
  async sweep(): Promise<number> {
    const { proc, config } = this.ctx;
    const { keys } = config;
    const [procs, beats, time] = await this.conn.run(
      (c) => Promise.all([c.hkeys(keys.processes), c.hgetall(keys.beats), c.send("TIME", [])]) as Promise<[string[], Record<string, string>, [string, string]]>,
      "scan",
    );
    const nowMs = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    const dead = deadProcesses(procs.filter((p) => p !== proc), beats, nowMs, config.deadAfterMs, this.ctx.host, pidAlive);
    for (const d of dead) {
      const { requeued, failed } = await this.release(d, config.deadJobs);
      config.log.warn(`worker process ${d} is dead: ${requeued} job(s) back to their queues, ${failed} failed, its workers unregistered`);
    }
    return dead.length;
  }

  start(): void {
    this.periodic.start();
  }

  stop(): void {
    this.periodic.stop();
  }

  /**
   * At start-up: under the prune lock too, but a held lock only delays us (up to a second): a worker restarted
   * after a crash must recover its predecessor's jobs now. The release script is idempotent, so two sweeps at
   * once are merely wasteful.
   */
  async sweepAtStart(): Promise<void> {
    await this.locked(true);
  }

  private async locked(anyway: boolean): Promise<void> {
    const { proc, config } = this.ctx;
    const { keys } = config;
    const take = () => this.conn.run((c) => c.send("SET", [keys.pruneLock, proc, "EX", "60", "NX"]), "prune lock");
    let won = (await take()) !== null;
    for (let i = 0; anyway && !won && i < START_LOCK_TRIES; i++) {
      await sleep(START_LOCK_WAIT_MS);
      won = (await take()) !== null;
    }
    if (!won && !anyway) return;
    try {
      await this.sweep();
    } finally {
      // Release only our own lock, so Ruby workers starting now can prune too.
      if (won) await this.conn.run((c) => unlock(c, keys.pruneLock, proc), "prune unlock");
    }
  }
}

// A fetch lane: a group of slots sharing one cycle loop (issues #2, #4, #5).
// 1. Batch every slot operation since the last call (acks of finished jobs, claims of landed jobs, in the
//    order they happened) and every free slot into one atomic script call (cycle-5.lua): one round trip
//    records outcomes, stats and failures, and moves new jobs into their slots' worker:<id> state.
// 2. Start each fetched job in its slot; its outcome becomes an ack for the next call.
// 3. When a fetch comes back short, every queue was empty: go idle and let the blockers wait on Redis
//    (no polling) until a push wakes us or lands a job (adopt).
// 4. Survive Redis outages: a failed call is sent again unchanged, with the same call number, which the
//    script applies at most once, so nothing is counted twice and nothing is lost.
// Several lanes (--connections) overlap their round trips, so Redis and the jobs work at the same time.
import type { WorkerContext } from "./context";
import { failedAt, runAt } from "./resque-time";
import type { RedisConn } from "./redis";
import { retrying } from "./retry";
import type { Finished, RunningJob } from "./runner";
import { runScript, scripts } from "./scripts";

export interface Slot {
  readonly id: string;
  job: RunningJob | null;
  /** Part of a fetch in flight: a blocker must not start a landed job in it. */
  fetching: boolean;
}

/** A landing list a blocker wants handed back to its queue, and who waits for that. */
interface Sweep {
  queue: string;
  done: () => void;
}

export type StartJob = (slot: Slot, queue: string, flag: string, raw: string) => RunningJob;

export class Lane {
  /** Slot operations in the order they happened: ["ack", id, outcome, tail] and ["claim", id, queue, ""]. */
  private ops: string[] = [];
  private claimed: (() => void)[] = [];
  private sweeps: Sweep[] = [];
  private running = false;
  private again = false;
  /** Number of the next cycle call; the script remembers the last one it applied. */
  private call = 1;
  /** The last fetch found every queue empty; only a wake() fetches again. */
  idle = false;
  /** Shutting down: acknowledge, never fetch. */
  quiet = false;
  /** Paused by USR2 (Resque's pause_processing) until CONT. */
  held = false;
  /** The pause-all-workers key was "true" at the last fetch. */
  private keyPaused = false;
  private pauseTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly conn: RedisConn,
    private readonly lane: number,
    readonly slots: Slot[],
    private readonly queueOrder: () => string[],
    private readonly start: StartJob,
    private readonly changed: () => void,
  ) {}

  get paused(): boolean {
    return this.held || this.keyPaused;
  }

  get busySlots(): number {
    return this.slots.reduce((n, s) => n + (s.job ? 1 : 0), 0);
  }

  get pendingAcks(): number {
    return this.ops.length / 4;
  }

  get working(): boolean {
    return this.running;
  }

  freeSlots(): number {
    return this.slots.length - this.busySlots;
  }

  finished(slot: Slot, f: Finished): void {
    slot.job = null;
    this.ops.push("ack", slot.id, f.outcome, f.tail);
    this.kick();
  }

  /** A free slot a landed job may start in at once (not part of a fetch in flight), if any. */
  slotForLanded(): Slot | undefined {
    if (this.quiet || this.held || this.keyPaused) return undefined;
    return this.slots.find((s) => !s.job && !s.fetching);
  }

  /**
   * Start a job a blocker moved to landing:<queue> in `slot` now, without waiting for a round trip (issue #5,
   * pickup latency); the next cycle makes it the slot's state. Resolves once that is recorded.
   */
  adopt(slot: Slot, queue: string, raw: string): Promise<void> {
    return new Promise((done) => {
      // Before the job starts: a job that finishes at once is acknowledged after its claim.
      this.ops.push("claim", slot.id, queue, "");
      this.claimed.push(done);
      const job = this.start(slot, queue, "", raw);
      if (!job.isSettled) slot.job = job;
      this.kick();
    });
  }

  /** Hand back whatever landing:<queue> holds to the front of its queue (a landed job no slot could take). */
  sweep(queue: string): Promise<void> {
    return new Promise((done) => {
      this.sweeps.push({ queue, done });
      this.kick();
    });
  }

  wake(): void {
    if (!this.idle) return;
    this.idle = false;
    this.kick();
  }

  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    queueMicrotask(() => void this.loop());
  }

  private fetching(): boolean {
    return !this.quiet && !this.held && !this.keyPaused && !this.idle;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        const ops = this.ops;
        const claimed = this.claimed;
        const sweeps = this.sweeps;
        this.ops = [];
        this.claimed = [];
        this.sweeps = [];
        const free = this.fetching() ? this.slots.filter((s) => !s.job) : [];
        if (ops.length === 0 && free.length === 0 && sweeps.length === 0) break;
        for (const s of free) s.fetching = true;
        try {
          await this.cycle(ops, free, sweeps);
        } finally {
          for (const s of free) s.fetching = false;
        }
        for (const done of [...claimed, ...sweeps.map((c) => c.done)]) done();
      } while (this.again || this.ops.length > 0 || this.sweeps.length > 0);
    } catch (e) {
      // Only a hard stop ends the retries; the acks stay in Redis as in-flight records and are handed back.
      if (!this.ctx.hardStop.aborted) this.ctx.log.error(`fetch lane stopped: ${(e as Error).message}`);
    } finally {
      this.running = false;
      this.changed();
    }
  }

  private async cycle(ops: string[], free: Slot[], sweeps: Sweep[]): Promise<void> {
    const { keys, proc } = this.ctx;
    const now = this.ctx.now();
    const queues = free.length ? this.queueOrder() : [];
    const args: (string | number)[] = [keys.workerPrefix, keys.processedBy(""), keys.failedBy(""), keys.queuePrefix, keys.landing(proc, ""),
      runAt(now), failedAt(now), this.lane, this.call, ops.length / 4, free.length, queues.length, sweeps.length, ...ops];
    for (const s of free) args.push(s.id);
    args.push(...queues);
    for (const sweep of sweeps) args.push(sweep.queue);
    const scriptKeys = [keys.lanes(proc), keys.processed, keys.failedCount, keys.failed, keys.pause];
    const reply = await retrying(
      () => this.conn.run((c) => runScript<(string | number)[]>(c, scripts.cycle, scriptKeys, args), "cycle"),
      this.ctx.outage,
      this.ctx.hardStop,
      (e) => this.ctx.log.error(`fetch failed, retrying: ${(e as Error).message}`),
    );
    this.call++;
    const n = Number(reply[1]);
    for (let k = 0; k < n; k++) {
      const at = 2 + k * 4;
      const slot = free[Number(reply[at]) - 1] as Slot;
      const job = this.start(slot, String(reply[at + 1]), String(reply[at + 2]), String(reply[at + 3]));
      if (!job.isSettled) slot.job = job;
    }
    if (free.length === 0) return;
    if (Number(reply[0]) === 1) this.pauseFor(1000);
    else this.idle = n < free.length;
  }

  /** pause-all-workers is set: look again in a second (Resque checks before every reserve). */
  private pauseFor(ms: number): void {
    if (this.pauseTimer) return;
    this.keyPaused = true;
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = undefined;
      this.keyPaused = false;
      this.kick();
    }, ms);
  }

  stopTimers(): void {
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.pauseTimer = undefined;
  }
}

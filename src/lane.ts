// A fetch lane: a group of slots sharing one cycle loop on one connection (issues #2, #4, #5).
// 1. Batch every slot operation since the last call (acks of finished jobs, claims of landed jobs, in the
//    order they happened) and every free slot into one atomic script call (lane-cycle-5.lua): one round trip
//    records outcomes, stats and failures, and moves new jobs into their slots' worker:<id> state.
// 2. Hand each fetched job to the runner in its slot; its outcome becomes an ack for the next call.
// 3. When a fetch comes back short, every queue was empty: go idle and let the blockers wait on Redis
//    (no polling) until a push wakes us or lands a job (adopt).
// 4. Survive Redis outages: a failed call is sent again unchanged, with the same call number, which the
//    script applies at most once, so nothing is counted twice and nothing is lost.
// Several lanes (--connections) overlap their round trips, so Redis and the jobs work at the same time.
import type { WorkerContext } from "./context";
import type { RedisConn } from "./redis";
import { failedAt, runAt } from "./resque-time";
import { retrying } from "./retry";
import type { Finished, Runner, RunningJob } from "./runner";
import { laneCycle, type SlotOp } from "./scripts";

export interface Slot {
  readonly id: string;
  job: RunningJob | null;
  /** Part of a fetch in flight: a blocker must not start a landed job in it. */
  fetching: boolean;
}

/** Where a lane gets the queue order of its next fetch. */
export interface QueueSource {
  fetchOrder(): readonly string[];
}

/** What a lane tells its manager: it went idle, got busy, paused or finished a call. */
export interface LaneListener {
  laneChanged(lane: Lane): void;
}

/** A landing list a blocker wants handed back to its queue, and who waits for that. */
interface Sweep {
  queue: string;
  done: () => void;
}

const PAUSE_RECHECK_MS = 1000;

export class Lane {
  private ops: SlotOp[] = [];
  private claimed: (() => void)[] = [];
  private sweeps: Sweep[] = [];
  private running = false;
  private again = false;
  /** Number of the next cycle call; the script remembers the last one it applied. */
  private call = 1;
  /** The last fetch found every queue empty; only a wake() fetches again. */
  private idleNow = false;
  /** Shutting down: acknowledge, never fetch. */
  private quiet = false;
  /** Paused by USR2 (Resque's pause_processing) until CONT. */
  private held = false;
  /** The pause-all-workers key was "true" at the last fetch. */
  private keyPaused = false;
  private pauseTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly conn: RedisConn,
    private readonly index: number,
    private readonly slots: Slot[],
    private readonly queues: QueueSource,
    private readonly runner: Runner,
    private readonly listener: LaneListener,
  ) {}

  get idle(): boolean {
    return this.idleNow;
  }

  get paused(): boolean {
    return this.held || this.keyPaused;
  }

  get busySlots(): number {
    return this.slots.reduce((n, s) => n + (s.job ? 1 : 0), 0);
  }

  get pendingAcks(): number {
    return this.ops.length;
  }

  get working(): boolean {
    return this.running;
  }

  /** No job running, nothing left to record. */
  get drained(): boolean {
    return this.busySlots === 0 && this.ops.length === 0 && !this.running;
  }

  freeSlots(): number {
    return this.slots.length - this.busySlots;
  }

  hold(held: boolean): void {
    this.held = held;
    if (!held) this.kick();
  }

  /** Shutting down: from now on only acknowledge. */
  quiesce(): void {
    this.quiet = true;
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.pauseTimer = undefined;
  }

  /** Abandon every running job at the shutdown deadline (its AbortSignal fires); returns how many. */
  abandonAll(reason: Error): number {
    let n = 0;
    for (const slot of this.slots) {
      if (!slot.job) continue;
      slot.job.abandon(reason);
      slot.job = null;
      n++;
    }
    return n;
  }

  /** A free slot a landed job may start in at once (not part of a fetch in flight), if any. */
  slotForLanded(): Slot | undefined {
    if (this.quiet || this.paused) return undefined;
    return this.slots.find((s) => !s.job && !s.fetching);
  }

  /**
   * Start a job a blocker moved to landing:<queue> in `slot` now, without waiting for a round trip (issue #5,
   * pickup latency); the next cycle makes it the slot's state. Resolves once that is recorded.
   */
  adopt(slot: Slot, queue: string, raw: string): Promise<void> {
    return new Promise((done) => {
      // Before the job starts: a job that finishes at once is acknowledged after its claim.
      this.ops.push({ kind: "claim", id: slot.id, queue });
      this.claimed.push(done);
      this.start(slot, queue, false, raw);
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
    if (!this.idleNow) return;
    this.idleNow = false;
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

  private start(slot: Slot, queue: string, notUtf8: boolean, raw: string): void {
    const job = this.runner.run(slot.id, queue, notUtf8, raw, (f) => this.finished(slot, f));
    if (!job.isSettled) slot.job = job;
  }

  private finished(slot: Slot, f: Finished): void {
    slot.job = null;
    this.ops.push(f.outcome === "ok" ? { kind: "ack", id: slot.id, outcome: "ok" } : { kind: "ack", id: slot.id, outcome: f.outcome, failure: f.failure });
    this.kick();
  }

  private fetching(): boolean {
    return !this.quiet && !this.paused && !this.idleNow;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        const { ops, claimed, sweeps } = this;
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
        for (const done of claimed) done();
        for (const s of sweeps) s.done();
      } while (this.again || this.ops.length > 0 || this.sweeps.length > 0);
    } catch (e) {
      // Only a hard stop ends the retries; the acks stay in Redis as in-flight records and are handed back.
      if (!this.ctx.hardStop.aborted) this.ctx.config.log.error(`fetch lane stopped: ${(e as Error).message}`);
    } finally {
      this.running = false;
      this.listener.laneChanged(this);
    }
  }

  private async cycle(ops: SlotOp[], free: Slot[], sweeps: Sweep[]): Promise<void> {
    const { config, proc } = this.ctx;
    const now = config.clock.now();
    const input = { proc, lane: this.index, call: this.call, runAt: runAt(now), failedAt: failedAt(now), ops,
      fill: free.map((s) => s.id), queues: free.length ? this.queues.fetchOrder() : [], sweeps: sweeps.map((s) => s.queue) };
    const result = await retrying(
      () => this.conn.run((c) => laneCycle(c, config.keys, input), "cycle"),
      this.ctx.outage,
      this.ctx.hardStop,
      (e) => config.log.error(`fetch failed, retrying: ${(e as Error).message}`),
    );
    this.call++;
    for (const job of result.jobs) this.start(free[job.slot] as Slot, job.queue, job.notUtf8, job.raw);
    if (free.length === 0) return;
    if (result.paused) this.pauseFor(PAUSE_RECHECK_MS);
    else this.idleNow = result.jobs.length < free.length;
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
}

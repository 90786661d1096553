// A fetch lane: a group of slots sharing one cycle loop on one connection (issues #2, #4, #5, #9).
// 1. Batch every ack since the last call and every free slot into one atomic script call (lane-cycle-6.lua):
//    one round trip records outcomes, stats and failures, and moves new jobs into their slots' worker:<id>.
// 2. Hand each fetched job to the runner in its slot; its outcome becomes an ack for the next call.
// 3. When a fetch comes back short, every queue was empty: go idle until the manager's watchers see work
//    (wake). Jobs leave their queue only inside the script, never anywhere else.
// 4. Survive Redis outages: a failed call is sent again unchanged, with the same call number, which the
//    script applies at most once, so nothing is counted twice and nothing is lost. A script that cannot
//    apply (a key of the wrong type) changes nothing: a bad queue is skipped and reported, any other bad key
//    stops the worker (BadKeyError), since retrying could never succeed.
// Several lanes (--connections) overlap their round trips, so Redis and the jobs work at the same time.
import type { RedisClient } from "bun";
import type { WorkerContext } from "./context";
import type { RedisConn } from "./redis";
import { failedAt, runAt } from "./resque-time";
import { NotReplicatedError, replicaWait, replicated, type ReplicaWait } from "./replicas";
import { retrying } from "./retry";
import type { Finished, Runner, RunningJob } from "./runner";
import { sendPickup, type Pickup } from "./pickup";
import { BadKeyError, evalFallbacks, laneCycle, type CycleInput, type CycleResult, type SlotOp } from "./scripts";

export interface Slot {
  readonly id: string;
  /** Its number in the process, 0 .. concurrency - 1 (the scripts keep each slot's job token by it). */
  readonly no: number;
  job: RunningJob | null;
  /** Lent to a blocker's pipelined pickup: the lane does not fill it meanwhile. */
  lent: boolean;
}

/** Where a lane gets the queue order of its next fetch. */
export interface QueueSource {
  fetchOrder(): readonly string[];
}

/** What a lane tells its manager. */
export interface LaneListener {
  /** It went idle, got busy, paused or finished a call. */
  laneChanged(lane: Lane): void;
  /** A job from `queue` starts in one of this lane's slots. */
  took(queue: string): void;
  /** A fetch filled every free slot: other idle lanes may find more. */
  moreWork(): void;
  /** A fetch found these queue keys of the wrong type (they were skipped). */
  badQueues(queues: readonly string[]): void;
  /** A key the lane must write is unusable: the worker cannot go on. */
  fatal(e: BadKeyError): void;
  /** A call met tampered bookkeeping: acks applied without a valid token, states deleted under running jobs. */
  bookkeeping(tampered: number, gone: readonly string[]): void;
}

const PAUSE_RECHECK_MS = 1000;

export class Lane {
  private ops: SlotOp[] = [];
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
  /** Why the last fetch took nothing although slots were free (pause key, not registered), if it did. */
  private pausedBy: CycleResult["paused"] = false;
  /** A key this lane must write is unusable (BadKeyError): it sends nothing more. */
  private broken = false;
  private readonly replicas: ReplicaWait;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly conn: RedisConn,
    private readonly index: number,
    private readonly slots: Slot[],
    private readonly queues: QueueSource,
    private readonly runner: Runner,
    private readonly listener: LaneListener,
  ) {
    this.replicas = replicaWait(ctx.config.log);
  }

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

  /** Acks waiting that this lane can still send. */
  get flushing(): boolean {
    return this.running || (this.ops.length > 0 && !this.broken);
  }

  /** No job running, nothing left to record. */
  get drained(): boolean {
    return this.busySlots === 0 && (this.ops.length === 0 || this.broken) && !this.running;
  }

  freeSlots(): number {
    return this.slots.reduce((n, s) => n + (s.job || s.lent ? 0 : 1), 0);
  }

  /**
   * Lend a free slot to a blocker (blocker.ts), if this lane is idle and keeps one free slot of its own after
   * it: that one is for the lane's own fetch when the poller or a notification wakes it.
   */
  lend(): Slot | undefined {
    if (!this.idleNow || this.quiet || this.paused || this.freeSlots() < 2) return undefined;
    const slot = this.slots.find((s) => !s.job && !s.lent);
    if (slot) slot.lent = true;
    return slot;
  }

  /**
   * A lent slot comes back. `unsure`: the pickup may have written the slot's state without our hearing of it
   * (cancelled, or its reply lost), so fetch now: a fetch gives a free slot its leftover state back.
   */
  giveBack(slot: Slot, unsure: boolean): void {
    slot.lent = false;
    if (unsure) this.wake(true);
  }

  /** A lent slot's pickup took a job (with `token`): it runs here, and this lane acknowledges it. */
  startPicked(slot: Slot, token: string, queue: string, notUtf8: boolean, raw: string): void {
    slot.lent = false;
    this.start(slot, token, queue, notUtf8, raw);
  }

  /** A lent slot's pickup answered: the job it took runs here, or the slot comes back (after "skip", a fetch looks). */
  settle(slot: Slot, picked: Pickup): void {
    if (picked === null || picked === "skip") this.giveBack(slot, picked === "skip");
    else this.startPicked(slot, picked.token, picked.queue, picked.notUtf8, picked.raw);
  }

  /**
   * Take one job from `queue` into a lent slot now, on this lane's connection: a keyspace notification named
   * the queue, and the blockers' pickup script takes its job in one round trip, where waking this lane would
   * cost a fetch over every free slot (issue #10). Resolves to whether the queue may hold more than it took.
   * A failed pickup may have written the slot's state unheard: the slot comes back unsure, so the lane's
   * fetch runs that job, or meets (and reports) whatever made the pickup fail.
   */
  async pick(slot: Slot, queue: string, token: string): Promise<boolean> {
    let picked: Pickup;
    try {
      picked = await this.conn.run((c) => sendPickup(this.ctx, c, slot, queue, token), "pickup");
    } catch {
      this.giveBack(slot, true);
      return false;
    }
    this.settle(slot, picked);
    return picked === "skip" || (picked !== null && picked.more);
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

  wake(force = false): void {
    if (!this.idleNow && !force) return;
    this.idleNow = false;
    this.kick();
  }

  kick(): void {
    if (this.broken) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    // After the current batch of timers and I/O, not in a microtask: jobs whose timers fire in the same tick
    // (started by one reply, so they end together) all get into one call, instead of the first one's ack
    // going alone and the rest waiting a round trip for it (#14: 1,000 slots of 50 ms jobs, 88-90 % -> 91-93 %
    // of the ideal rate).
    setImmediate(() => void this.loop());
  }

  private start(slot: Slot, token: string, queue: string, notUtf8: boolean, raw: string): void {
    this.listener.took(queue);
    const job = this.runner.run(slot.id, queue, notUtf8, raw, (f) => this.finished(slot, token, f, queue, raw));
    if (!job.isSettled) slot.job = job;
  }

  private finished(slot: Slot, token: string, f: Finished, queue: string, raw: string): void {
    slot.job = null;
    const { id, no } = slot;
    if (f.outcome === "ok") this.ops.push({ kind: "ack", id, slot: no, token, outcome: "ok" });
    // A retried class's outcomes (issue #17): resque-retry's writes travel with the ack.
    else if (f.outcome === "done") this.ops.push({ kind: "ack", id, slot: no, token, outcome: "done", retry: f.retry });
    else if ("retry" in f) this.ops.push({ kind: "ack", id, slot: no, token, outcome: f.outcome, failure: f.failure, queue, raw, retry: f.retry });
    else this.ops.push({ kind: "ack", id, slot: no, token, outcome: f.outcome, failure: f.failure, queue, raw });
    this.kick();
  }

  /** Acks this lane will not send (it stopped): their outcomes are kept at shutdown (outcomes.ts, issue #14). */
  unsent(): readonly SlotOp[] {
    return this.ops;
  }

  private fetching(): boolean {
    return !this.quiet && !this.paused && !this.idleNow;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        const ops = this.ops;
        this.ops = [];
        const free = this.fetching() ? this.slots.filter((s) => !s.job && !s.lent) : [];
        if (ops.length === 0 && free.length === 0) break;
        try {
          await this.cycle(ops, free);
        } catch (e) {
          // Not applied (a bad key changes nothing) or not known to be (the hard stop): kept for the shutdown.
          this.ops = ops.concat(this.ops);
          throw e;
        }
      } while (this.again || this.ops.length > 0);
    } catch (e) {
      // A bad key or a hard stop ends the retries; the shutdown keeps finished jobs' outcomes (unsent()) and
      // hands back the rest. Nothing more is sent: an ack resent in a new call could count its job twice.
      this.quiet = true;
      this.broken = true;
      if (e instanceof BadKeyError) this.listener.fatal(e);
      else if (!this.ctx.hardStop.aborted) this.ctx.config.log.error(`fetch lane stopped: ${(e as Error).message}`);
    } finally {
      this.running = false;
      this.listener.laneChanged(this);
    }
  }

  private async cycle(ops: SlotOp[], free: Slot[]): Promise<void> {
    const { config, proc } = this.ctx;
    const now = config.clock.now();
    const input = { proc, lane: this.index, call: this.call, runAt: runAt(now), failedAt: failedAt(now), ops,
      fill: free.map((s) => ({ id: s.id, slot: s.no })), queues: free.length ? this.queues.fetchOrder() : [] };
    const n = config.minReplicas;
    const result = await retrying(
      // --min-replicas: a call not yet on n replicas is sent again (replicas.ts); no job of it starts before.
      () => this.conn.run((c) => (n ? this.replicatedCycle(c, input, n) : laneCycle(c, config.keys, input)), "cycle"),
      this.ctx.outage,
      this.ctx.hardStop,
      (e) => {
        if (e instanceof BadKeyError) throw e;
        if (e instanceof NotReplicatedError) return this.replicas.lagging(e);
        config.log.error(`fetch failed, retrying: ${(e as Error).message}`);
      },
    );
    if (n) this.replicas.caughtUp();
    const token = String(this.call++);
    if (result.badQueues.length) this.listener.badQueues(result.badQueues);
    if (result.tampered || result.gone.length) this.listener.bookkeeping(result.tampered, result.gone);
    for (const job of result.jobs) this.start(free[job.slot] as Slot, token, job.queue, job.notUtf8, job.raw);
    if (free.length === 0) return;
    if (result.jobs.length === free.length) this.listener.moreWork();
    if (result.paused !== this.pausedBy && this.index === 0) this.reportPause(result.paused);
    this.pausedBy = result.paused;
    if (result.paused) this.pauseFor(PAUSE_RECHECK_MS);
    else this.idleNow = result.jobs.length < free.length;
  }

  /** The cycle call with its WAIT pipelined behind it (one round trip); again after it, if it went as EVAL. */
  private async replicatedCycle(c: RedisClient, input: CycleInput, n: number): Promise<CycleResult> {
    const fallbacks = evalFallbacks;
    const [r] = await Promise.all([laneCycle(c, this.ctx.config.keys, input), replicated(c, n)]);
    if (evalFallbacks !== fallbacks) await replicated(c, n);
    return r;
  }

  /** Said once per change (by lane 0 only), not at every recheck. */
  private reportPause(by: CycleResult["paused"]): void {
    const { log, keys } = this.ctx.config;
    if (by === "pause-all-workers") log.info(`paused: ${keys.pause} is "true"; no job is taken until it is deleted`);
    else if (by === "unregistered") log.warn("this process is not registered (declared dead while it was frozen?): no job is taken until its next heartbeat");
    else log.info("resumed: taking jobs again");
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

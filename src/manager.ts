// The slots of one worker process and everything that fills them (Sidekiq's manager):
// 1. split the slots into --connections fetch lanes, one connection each, and give them the queue order;
// 2. know the queues: the list given, or for `*`, globs and `!skip` the members of `<ns>queues` (poller.ts);
//    a queue whose key has the wrong type is skipped for a while and reported;
// 3. while some lane is idle with a free slot (the gate), watch for work at a cost that does not grow with
//    the number of queues (issue #10): a blocker on each of the first --blocking-queues queues, up to
//    --follow-queues followers (blockers on the other queues that had jobs most recently), keyspace
//    notifications when the server has them (notifier.ts), and one EXISTS over the rest every --interval;
//    a notification's job is taken at once by a pickup into a lent slot (Lane.pick); other work seen wakes
//    one idle lane, which takes the job with its own atomic script call;
// 4. tell the launcher when, with --exit-on-complete, every queue is empty and nothing runs;
// 5. at shutdown: quiet (no fetching, no watching), report when drained, abandon what still runs.
import { Blocker, Gate, type Loan } from "./blocker";
import type { WorkerContext } from "./context";
import { Lane, type LaneListener, type QueueSource, type Slot } from "./lane";
import { Notifier } from "./notifier";
import { reportTampering } from "./outcomes";
import { Poller } from "./poller";
import { QueueOrder, resolveQueues, type QueueSpec } from "./queues";
import type { RedisConn } from "./redis";
import type { Runner } from "./runner";
import type { BadKeyError, SlotOp } from "./scripts";

/**
 * How long a follower keeps a queue after its last job before it may follow another: bounds how often a
 * follower's wait is replaced (each replacement costs a new connection and a fetch) when jobs spread over many
 * queues.
 */
export const FOLLOW_KEEP_MS = 2000;

/** How long a queue whose key has the wrong type is left out before it is tried again. */
const BAD_QUEUE_PAUSE_MS = 60_000;

/**
 * How long a blocker's wait lasts: 95 % of twice --dead-after (114 s by default). Nothing needs it to end
 * before its owner could be reaped: its pickup takes a job only while the process is registered, so a wait that
 * outlives a frozen owner's reaping takes nothing (test `frozen`). Its length bounds how long a connection that
 * died silently goes unnoticed, against what each renewal costs (three commands) in an idle worker's budget of
 * one command a second, which the promoter shares (#17).
 */
export function blockMs(config: { deadAfterMs: number }): number {
  return Math.max(50, Math.floor(config.deadAfterMs * 2 * 0.95));
}

export interface ManagerEvents {
  /** With --exit-on-complete: every queue was empty and no job runs. */
  complete(): void;
  /** A key the worker must write is unusable. */
  fatal(e: BadKeyError): void;
}

export class Manager implements LaneListener, QueueSource {
  private readonly lanes: Lane[];
  private readonly blockers = new Map<string, Blocker>();
  private readonly gate = new Gate();
  private readonly poller: Poller;
  private readonly notifier: Notifier;
  private readonly conn: RedisConn;
  private order: QueueOrder;
  private readonly badUntil = new Map<string, number>();
  /** The lane woken for work seen, until its fetch is done: the gate stays closed meanwhile. */
  private waking: Lane | null = null;
  /**
   * The queues the woken lane's fetch looks at, when the work was seen on named queues (a notification, a
   * blocker): with a thousand queues, a fetch over all of them costs milliseconds, one over the named queues
   * well under one. Null: fetch in the full order.
   */
  private hint: Set<string> | null = null;
  /** Work seen while a lane was already waking, to wake one again once its fetch is done: where, or "all". */
  private seenWhileWaking: Set<string> | "all" | null = null;
  private stopping = false;
  /** Pickup job tokens: one counter for all blockers, which lend slots of every lane ("p" never equals a call number). */
  private pickups = 0;

  constructor(
    private readonly ctx: WorkerContext,
    conns: readonly RedisConn[],
    ids: readonly string[],
    runner: Runner,
    private readonly events: ManagerEvents,
  ) {
    const { config } = ctx;
    this.order = new QueueOrder(config.dynamicQueues ? [] : config.queues.filter((s) => !s.skip));
    const groups: Slot[][] = conns.map(() => []);
    ids.forEach((id, i) => groups[i % conns.length]?.push({ id, no: i, job: null, lent: false }));
    this.lanes = groups.map((slots, i) => new Lane(ctx, conns[i] as RedisConn, i, slots, this, runner, this));
    const conn = (this.conn = conns[0] as RedisConn);
    this.poller = new Poller(ctx, conn, this.gate, {
      refreshQueues: (known) => this.setQueues(resolveQueues([...config.queues], known)),
      polledQueues: () => this.served().filter((q) => !this.blockers.has(q)),
      onWork: () => this.onWork(),
    });
    this.notifier = new Notifier(ctx, conn, { pushed: (q) => this.pushed(q), subscribed: () => void this.poller.look().catch((e) => ctx.outage.failed(e)) });
  }

  async start(): Promise<void> {
    const { config } = this.ctx;
    await this.poller.refresh();
    if (!config.exitOnComplete) {
      this.poller.start();
      this.followBlockers();
      await this.notifier.start(config.notifications);
    }
    for (const lane of this.lanes) lane.kick();
  }

  /** The queues to serve now, in priority order, without those skipped for a bad key. */
  private served(): string[] {
    return this.withoutBad(this.order.queues.map((s) => s.name));
  }

  private withoutBad(queues: string[]): string[] {
    if (this.badUntil.size === 0) return queues;
    const now = Date.now();
    return queues.filter((q) => (this.badUntil.get(q) ?? 0) <= now);
  }

  fetchOrder(): string[] {
    const hint = this.hint;
    this.hint = null;
    // A fetch for work seen on named queues looks at those only: walking a thousand queue names costs a tenth
    // of a millisecond when they have gone cold in the CPU's caches, as they do between two jobs.
    if (hint !== null) return this.withoutBad(this.order.among(hint));
    return this.withoutBad(this.order.next().map((q) => (this.order.queues[q] as QueueSpec).name));
  }

  hold(held: boolean): void {
    for (const lane of this.lanes) lane.hold(held);
    this.laneChanged();
  }

  get runningJobs(): number {
    return this.lanes.reduce((n, l) => n + l.busySlots, 0);
  }

  get drained(): boolean {
    return this.lanes.every((l) => l.drained);
  }

  /** Acks still to be sent (or being sent). */
  get flushing(): boolean {
    return this.lanes.some((l) => l.flushing);
  }

  /** Stop fetching and watching; lanes still acknowledge what finishes. */
  quiet(): void {
    this.stopping = true;
    for (const lane of this.lanes) lane.quiesce();
    this.poller.stop();
    this.notifier.stop();
    for (const b of this.blockers.values()) b.stop();
  }

  abandonRunning(): number {
    const reason = new Error("the worker is shutting down; the job goes back to its queue");
    reason.name = "ShutdownError";
    return this.lanes.reduce((n, l) => n + l.abandonAll(reason), 0);
  }

  laneChanged(lane?: Lane): void {
    if (lane === this.waking && !lane.working) this.waking = null;
    if (this.stopping) return;
    const seen = this.seenWhileWaking;
    if (!this.waking && seen) {
      this.seenWhileWaking = null;
      this.wakeLane(seen === "all" ? null : seen);
    }
    const paused = this.lanes.some((l) => l.paused);
    this.gate.set(!paused && !this.waking && this.lanes.some((l) => l.idle && l.freeSlots() > 0));
    if (paused) for (const b of this.blockers.values()) b.cancel();
    if (this.ctx.config.exitOnComplete && this.lanes.every((l) => l.idle && l.drained)) this.events.complete();
  }

  /**
   * A job starts: a queue past the fixed blockers that has jobs gets a follower (a blocker of its own), the one
   * whose queue has gone longest without a job, if that was at least FOLLOW_KEEP_MS ago.
   */
  took(queue: string): void {
    const now = Date.now();
    const own = this.blockers.get(queue);
    if (own) return void (own.lastJobAt = now);
    const { config } = this.ctx;
    if (this.stopping || config.exitOnComplete || config.followQueues === 0 || !this.order.has(queue)) return;
    let followers = 0;
    let stalest: Blocker | undefined;
    for (const b of this.blockers.values()) {
      if (!b.follower) continue;
      followers++;
      if (!stalest || b.lastJobAt < stalest.lastJobAt) stalest = b;
    }
    if (followers < config.followQueues) {
      const b = new Blocker(this.ctx, queue, this.gate, this.blockerHost, blockMs(config), true);
      b.lastJobAt = now;
      this.blockers.set(queue, b);
    } else if (stalest && now - stalest.lastJobAt >= FOLLOW_KEEP_MS) {
      this.blockers.delete(stalest.queue);
      stalest.follow(queue);
      this.blockers.set(queue, stalest);
    }
  }

  /** A lane filled every free slot: other idle lanes fetch too, and waits give their lent slots back (#14). */
  moreWork(): void {
    for (const lane of this.lanes) lane.wake();
    for (const b of this.blockers.values()) b.reclaim();
  }

  badQueues(queues: readonly string[]): void {
    const { keys, log } = this.ctx.config;
    for (const q of queues) {
      if ((this.badUntil.get(q) ?? 0) > Date.now()) continue;
      this.badUntil.set(q, Date.now() + BAD_QUEUE_PAUSE_MS);
      log.error(`queue ${keys.queue(q)} is not a list (it holds another type): skipped for ${BAD_QUEUE_PAUSE_MS / 1000} s; fix or delete the key`);
    }
  }

  fatal(e: BadKeyError): void {
    this.events.fatal(e);
  }

  bookkeeping(tampered: number, gone: readonly string[]): void {
    reportTampering(this.ctx, tampered, gone);
  }

  /** Acks of finished jobs that the lanes will not send (see Lane.unsent). */
  unsentAcks(): SlotOp[] {
    return this.lanes.flatMap((l) => [...l.unsent()]);
  }

  /** Some watched queue (`queue`, or any when not named) has a job: wake an idle lane to fetch it. */
  private onWork(queue?: string): void {
    this.wakeLane(queue === undefined ? null : new Set([queue]));
  }

  /** Wake the idle lane with the most free slots for a fetch over `queues` (null: all), unless one is already waking. */
  private wakeLane(queues: Set<string> | null): void {
    if (this.stopping) return;
    if (this.waking) {
      const seen = this.seenWhileWaking;
      if (queues === null || seen === "all") this.seenWhileWaking = "all";
      else this.seenWhileWaking = seen ? new Set([...seen, ...queues]) : new Set(queues);
      return;
    }
    const lane = this.lanes.filter((l) => l.idle && l.freeSlots() > 0).sort((a, b) => b.freeSlots() - a.freeSlots())[0];
    if (!lane) return;
    this.waking = lane;
    this.hint = queues;
    this.gate.set(false);
    lane.wake();
  }

  /**
   * A notification named `queue`: take its job at once into a lent slot, one round trip (Lane.pick); without
   * a slot to lend, wake a lane. A queue that still holds jobs after the pickup gets a lane's fetch, which
   * fills every free slot in one call.
   */
  private pickNow(queue: string): void {
    if (this.stopping) return;
    const loan = this.waking ? undefined : this.lend();
    if (!loan) return this.onWork(queue);
    void loan.lane.pick(loan.slot, queue, this.nextToken()).then((more) => more && this.onWork(queue));
  }

  private nextToken(): string {
    return `p${++this.pickups}`;
  }

  /**
   * A keyspace notification: a push to some queue. One we do not serve yet may be new in `<ns>queues`, but
   * only if our patterns could match it: pushes to other worker pools' queues cost nothing here.
   */
  private pushed(queue: string): void {
    const { config } = this.ctx;
    // A blocker waits on that queue and takes the job itself (its own BLMOVE's rotation is a push, too).
    if (this.blockers.has(queue)) return;
    if (this.order.has(queue)) return this.pickNow(queue);
    if (!config.dynamicQueues || resolveQueues([...config.queues], [queue]).length === 0) return;
    void this.poller.refresh().then(() => this.onWork(), (e) => this.ctx.outage.failed(e));
  }

  private setQueues(resolved: QueueSpec[]): void {
    if (resolved.map((s) => s.name).join(",") === this.order.queues.map((s) => s.name).join(",")) return;
    this.order = new QueueOrder(resolved);
    if (!this.stopping && !this.ctx.config.exitOnComplete) this.followBlockers();
  }

  /** One blocker for each of the first --blocking-queues queues; followers of queues no longer served (or now among those) stop. */
  private followBlockers(): void {
    const { config } = this.ctx;
    const wanted = new Set(this.order.queues.slice(0, config.blockingQueues).map((s) => s.name));
    for (const [q, b] of this.blockers) {
      if (b.follower ? this.order.has(q) && !wanted.has(q) : wanted.has(q)) continue;
      b.stop();
      this.blockers.delete(q);
    }
    for (const q of wanted) if (!this.blockers.has(q)) this.blockers.set(q, new Blocker(this.ctx, q, this.gate, this.blockerHost, blockMs(config)));
  }

  private readonly blockerHost = { lend: () => this.lend(), nextToken: () => this.nextToken(), onWork: (queue: string) => this.onWork(queue), onError: (queue: string, e: unknown) => this.blockerFailed(queue, e), retire: (b: Blocker) => this.retire(b),
    unblock: (id: number) => this.conn.run((c) => c.send("CLIENT", ["UNBLOCK", String(id)]), "CLIENT UNBLOCK").then(() => {}) };

  /**
   * A follower whose queue has had no job for a whole wait stops: when the jobs stop, the worker's connections
   * and idle traffic go back to what they are without followers (each wait's renewal costs three commands).
   */
  private retire(b: Blocker): boolean {
    if (Date.now() - b.lastJobAt < blockMs(this.ctx.config)) return false;
    if (this.blockers.get(b.queue) === b) this.blockers.delete(b.queue);
    b.stop();
    return true;
  }

  /** A free slot of an idle lane for a blocker's pickup; the gate closes when none is left. */
  private lend(): Loan | undefined {
    for (const lane of this.lanes) {
      const slot = lane.lend();
      if (slot) {
        this.laneChanged();
        return { lane, slot };
      }
    }
    return undefined;
  }

  private blockerFailed(queue: string, e: unknown): void {
    if (/WRONGTYPE/.test((e as Error).message)) this.badQueues([queue]);
    else this.ctx.config.log.error(`waiting on queue ${queue} failed: ${(e as Error).message}`);
  }
}

// The slots of one worker process and everything that fills them (Sidekiq's manager):
// 1. split the slots into --connections fetch lanes, one connection each, and give them the queue order;
// 2. know the queues: the list given, or for `*`, globs and `!skip` the members of `<ns>queues` (poller.ts);
//    a queue whose key has the wrong type is skipped for a while and reported;
// 3. while some lane is idle with a free slot (the gate), watch for work at a cost that does not grow with
//    the number of queues (issue #10): a blocker on each of the first --blocking-queues queues, keyspace
//    notifications when the server has them (notifier.ts), and one EXISTS over the rest every --interval;
//    work seen wakes one idle lane, which takes the job with its own atomic script call;
// 4. tell the launcher when, with --exit-on-complete, every queue is empty and nothing runs;
// 5. at shutdown: quiet (no fetching, no watching), report when drained, abandon what still runs.
import { Blocker, Gate, type Loan } from "./blocker";
import type { WorkerContext } from "./context";
import { Lane, type LaneListener, type QueueSource, type Slot } from "./lane";
import { Notifier } from "./notifier";
import { Poller } from "./poller";
import { QueueOrder, resolveQueues, type QueueSpec } from "./queues";
import type { RedisConn } from "./redis";
import type { Runner } from "./runner";
import type { BadKeyError } from "./scripts";

/** How long a queue whose key has the wrong type is left out before it is tried again. */
const BAD_QUEUE_PAUSE_MS = 60_000;

/**
 * How long a blocker's wait lasts: a wait sent just before this process stopped beating ends before anyone may
 * reap it (--dead-after after its last beat, at most one heartbeat before the wait was sent), with 5 % to spare.
 */
export function blockMs(config: { deadAfterMs: number; heartbeatMs: number }): number {
  return Math.max(50, Math.floor((config.deadAfterMs - config.heartbeatMs) * 0.95));
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
  private order: QueueOrder;
  private readonly badUntil = new Map<string, number>();
  /** The lane woken for work seen, until its fetch is done: the gate stays closed meanwhile. */
  private waking: Lane | null = null;
  /**
   * The queues a keyspace notification named for the woken lane's fetch: with a thousand queues, a fetch over
   * all of them costs milliseconds, one over the named queue well under one. Null: fetch in the full order.
   */
  private hint: Set<string> | null = null;
  /** Work was seen while a lane was already waking: wake again once its fetch is done. */
  private seenWhileWaking = false;
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
    const conn = conns[0] as RedisConn;
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
    const now = Date.now();
    return queues.filter((q) => (this.badUntil.get(q) ?? 0) <= now);
  }

  fetchOrder(): string[] {
    const hint = this.hint;
    this.hint = null;
    const order = this.withoutBad(this.order.next().map((q) => (this.order.queues[q] as QueueSpec).name));
    return hint ? order.filter((q) => hint.has(q)) : order;
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
    if (!this.waking && this.seenWhileWaking) {
      this.seenWhileWaking = false;
      this.onWork();
    }
    const paused = this.lanes.some((l) => l.paused);
    this.gate.set(!paused && !this.waking && this.lanes.some((l) => l.idle && l.freeSlots() > 0));
    if (paused) for (const b of this.blockers.values()) b.cancel();
    if (this.ctx.config.exitOnComplete && this.lanes.every((l) => l.idle && l.drained)) this.events.complete();
  }

  /** A lane filled every free slot: there may be more, so the other idle lanes fetch too. */
  moreWork(): void {
    for (const lane of this.lanes) lane.wake();
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

  /** Some watched queue has a job: wake the idle lane with the most free slots, unless one is already waking. */
  private onWork(queue?: string): void {
    if (this.stopping) return;
    if (this.waking) return void (this.seenWhileWaking = true);
    const lane = this.lanes.filter((l) => l.idle && l.freeSlots() > 0).sort((a, b) => b.freeSlots() - a.freeSlots())[0];
    if (!lane) return;
    this.waking = lane;
    this.hint = queue === undefined ? null : new Set([queue]);
    this.gate.set(false);
    lane.wake();
  }

  /**
   * A keyspace notification: a push to some queue. One we do not serve yet may be new in `<ns>queues`, but
   * only if our patterns could match it: pushes to other worker pools' queues cost nothing here.
   */
  private pushed(queue: string): void {
    const { config } = this.ctx;
    if (this.order.queues.some((s) => s.name === queue)) return this.onWork(queue);
    if (!config.dynamicQueues || resolveQueues([...config.queues], [queue]).length === 0) return;
    void this.poller.refresh().then(() => this.onWork(), (e) => this.ctx.outage.failed(e));
  }

  private setQueues(resolved: QueueSpec[]): void {
    if (resolved.map((s) => s.name).join(",") === this.order.queues.map((s) => s.name).join(",")) return;
    this.order = new QueueOrder(resolved);
    if (!this.stopping && !this.ctx.config.exitOnComplete) this.followBlockers();
  }

  /** One blocker for each of the first --blocking-queues queues. */
  private followBlockers(): void {
    const { config } = this.ctx;
    const wanted = new Set(this.order.queues.slice(0, config.blockingQueues).map((s) => s.name));
    for (const [q, b] of this.blockers) if (!wanted.has(q)) b.stop(), this.blockers.delete(q);
    const host = { lend: () => this.lend(), nextToken: () => `p${++this.pickups}`, onWork: (queue: string) => this.onWork(queue), onError: (queue: string, e: unknown) => this.blockerFailed(queue, e) };
    for (const q of wanted) if (!this.blockers.has(q)) this.blockers.set(q, new Blocker(this.ctx, q, this.gate, host, blockMs(config)));
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

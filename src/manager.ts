// The slots of one worker process and everything that fills them (Sidekiq's manager):
// 1. split the slots into --connections fetch lanes, one connection each, and give them the queue order;
// 2. follow `<ns>queues` for dynamic lists (`*`, globs, `!skip`) once per --interval;
// 3. keep one blocker per queue waiting while some lane is idle with a free slot (the gate), and route a job
//    a blocker landed into a free slot, or back to its queue;
// 4. tell the launcher when, with --exit-on-complete, every queue is empty and nothing runs;
// 5. at shutdown: quiet (no fetching, blockers closed), report when drained, abandon what still runs.
import { Blocker, Gate } from "./blocker";
import type { WorkerContext } from "./context";
import { Lane, type LaneListener, type QueueSource, type Slot } from "./lane";
import { Periodic } from "./periodic";
import { QueueOrder, resolveQueues, type QueueSpec } from "./queues";
import type { RedisConn } from "./redis";
import { retrying } from "./retry";
import type { Runner } from "./runner";

export class Manager implements LaneListener, QueueSource {
  private readonly lanes: Lane[];
  private readonly blockers = new Map<string, Blocker>();
  private readonly gate = new Gate();
  private readonly refresh: Periodic | undefined;
  private order: QueueOrder;
  private stopping = false;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly conns: readonly RedisConn[],
    ids: readonly string[],
    runner: Runner,
    /** With --exit-on-complete: every queue was empty and no job runs. */
    private readonly onComplete: () => void,
  ) {
    const { config } = ctx;
    this.order = new QueueOrder(config.dynamicQueues ? [] : config.queues.filter((s) => !s.skip));
    const groups: Slot[][] = conns.map(() => []);
    ids.forEach((id, i) => groups[i % conns.length]?.push({ id, job: null, fetching: false }));
    this.lanes = groups.map((slots, i) => new Lane(ctx, conns[i] as RedisConn, i, slots, this, runner, this));
    if (config.dynamicQueues) this.refresh = new Periodic(config.intervalMs, () => this.refreshQueues(), (e) => ctx.outage.failed(e));
  }

  async start(): Promise<void> {
    await this.refreshQueues();
    this.refresh?.start();
    for (const lane of this.lanes) lane.kick();
  }

  fetchOrder(): string[] {
    return this.order.next().map((q) => (this.order.queues[q] as QueueSpec).name);
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
    return this.lanes.some((l) => l.working || l.pendingAcks > 0);
  }

  /** Stop fetching and waiting; lanes still acknowledge what finishes. */
  quiet(): void {
    this.stopping = true;
    for (const lane of this.lanes) lane.quiesce();
    this.refresh?.stop();
    for (const b of this.blockers.values()) b.stop();
  }

  abandonRunning(): number {
    const reason = new Error("the worker is shutting down; the job goes back to its queue");
    reason.name = "ShutdownError";
    return this.lanes.reduce((n, l) => n + l.abandonAll(reason), 0);
  }

  laneChanged(): void {
    if (this.stopping) return;
    const paused = this.lanes.some((l) => l.paused);
    this.gate.set(!paused && this.lanes.some((l) => l.idle && l.freeSlots() > 0));
    if (paused) for (const b of this.blockers.values()) b.cancel();
    if (this.ctx.config.exitOnComplete && this.lanes.every((l) => l.idle && l.drained)) this.onComplete();
  }

  /** Dynamic lists (`*`, globs, `!skip`) follow `<ns>queues`; every list gets one blocker per queue. */
  private async refreshQueues(): Promise<void> {
    const { config } = this.ctx;
    if (config.dynamicQueues) {
      const conn = this.conns[0] as RedisConn;
      const known = await retrying(() => conn.run((c) => c.smembers(config.keys.queues), "SMEMBERS"), this.ctx.outage, this.ctx.hardStop);
      const resolved = resolveQueues([...config.queues], known);
      if (resolved.map((s) => s.name).join(",") !== this.order.queues.map((s) => s.name).join(",")) this.order = new QueueOrder(resolved);
    }
    if (config.exitOnComplete || this.stopping) return;
    this.followBlockers();
    if (config.dynamicQueues) this.wakeLanes();
  }

  private followBlockers(): void {
    const wanted = new Set(this.order.queues.map((s) => s.name));
    for (const [q, b] of this.blockers) if (!wanted.has(q)) b.stop(), this.blockers.delete(q);
    const blockSeconds = () => (this.ctx.config.intervalMs / 1000) * Math.max(1, this.blockers.size);
    for (const q of wanted) if (!this.blockers.has(q)) this.blockers.set(q, new Blocker(this.ctx, q, this.gate, (raw) => this.landed(q, raw), blockSeconds));
  }

  /**
   * A blocker moved one job to landing:<queue> (raw = that job, or null when its reply was lost). Start it at
   * once in a free slot; a job whose text shows a replaced byte (not UTF-8), or one no slot can take now, goes
   * back to the front of its queue instead, for a normal fetch (which checks the bytes) to take.
   */
  private landed(queue: string, raw: string | null): Promise<void> {
    const lanes = [...this.lanes].sort((a, b) => Number(b.idle) - Number(a.idle));
    if (raw !== null && !raw.includes("\uFFFD") && !this.stopping) {
      for (const lane of lanes) {
        const slot = lane.slotForLanded();
        if (slot) {
          // More may be waiting behind it: let the idle lanes fetch as well.
          this.wakeLanes();
          return lane.adopt(slot, queue, raw);
        }
      }
    }
    return (lanes[0] as Lane).sweep(queue).then(() => this.wakeLanes());
  }

  private wakeLanes(): void {
    for (const lane of this.lanes) lane.wake();
  }
}

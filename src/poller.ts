// The queues no blocker waits on, at a cost that does not grow with their number (issue #10):
// 1. every --interval, a dynamic list (`*`, globs, `!skip`) is read again from `<ns>queues`: one SMEMBERS,
//    so a new queue is served within one interval;
// 2. while some lane is idle with a free slot, one EXISTS over all those queue keys tells whether any has a
//    job (Redis deletes empty lists): one command per interval however many queues, and a lane is woken only
//    when there is work. With keyspace notifications (notifier.ts) this is only the safety net.
import type { Gate } from "./blocker";
import type { WorkerContext } from "./context";
import { Periodic } from "./periodic";
import type { RedisConn } from "./redis";

export interface PollTarget {
  /** Re-read `<ns>queues` (dynamic lists only). */
  refreshQueues(known: string[]): void;
  /** The queues this poller must look at. */
  polledQueues(): readonly string[];
  /** One of them has a job. */
  onWork(): void;
}

export class Poller {
  private readonly periodic: Periodic;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly conn: RedisConn,
    private readonly gate: Gate,
    private readonly target: PollTarget,
  ) {
    this.periodic = new Periodic(ctx.config.intervalMs, () => this.tick(), (e) => ctx.outage.failed(e));
  }

  start(): void {
    this.periodic.start();
  }

  stop(): void {
    this.periodic.stop();
  }

  /** Read `<ns>queues` now (start-up, or a notification named a queue we do not know yet). */
  async refresh(): Promise<void> {
    const { config } = this.ctx;
    if (!config.dynamicQueues) return;
    const known = await this.conn.run((c) => c.smembers(config.keys.queues), "SMEMBERS");
    this.target.refreshQueues(known);
  }

  /** One EXISTS over the polled queues; wakes a lane if any has a job. */
  async look(): Promise<void> {
    const { keys } = this.ctx.config;
    const queues = this.target.polledQueues();
    if (queues.length === 0 || !this.gate.isOpen) return;
    const n = await this.conn.run((c) => c.send("EXISTS", queues.map((q) => keys.queue(q))) as Promise<number>, "EXISTS");
    if (n > 0) this.target.onWork();
  }

  private async tick(): Promise<void> {
    await this.refresh();
    await this.look();
    this.ctx.outage.recovered();
  }
}

// Sub-millisecond pickup without polling (issue #5): while a lane is idle, one connection per queue waits in
// BLMOVE queue:<q> -> landing:<proc>:<q>. The move is atomic, so a job that lands is already recorded as ours
// (issue #4) and the next cycle takes it from the landing list before anything else in that queue. A blocker
// re-arms only while some lane is idle, so a busy worker does not hoard jobs other workers could run.
import type { WorkerContext } from "./context";
import { isTransient, RedisConn } from "./redis";
import { backoffMs, sleep } from "./retry";

/** Open while some lane is idle with a free slot; blockers wait on it. */
export class Gate {
  private waiters: (() => void)[] = [];
  private open = false;

  get isOpen(): boolean {
    return this.open;
  }

  set(open: boolean): void {
    this.open = open;
    if (open) this.release();
  }

  wait(): Promise<void> {
    if (this.open) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

export class Blocker {
  private readonly conn: RedisConn;
  private stopped = false;
  private cancelled = false;
  private waiting = false;
  private announced = false;
  readonly done: Promise<void>;

  constructor(
    private readonly ctx: WorkerContext,
    readonly queue: string,
    private readonly gate: Gate,
    private readonly landed: () => void,
    /** Seconds one BLMOVE may block: --interval times the number of blockers, so renewals of all queues
     *  together stay at one per --interval (issue #5: an idle worker sends at most ~1 command/s). */
    private readonly blockSeconds: () => number,
  ) {
    this.conn = new RedisConn(ctx.target, ctx.settings.commandTimeout * 1000, `blocker(${queue})`);
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    const { keys, proc, settings } = this.ctx;
    for (let attempt = 0; !this.stopped; ) {
      await this.gate.wait();
      if (this.stopped) break;
      try {
        // Recovery finds landing lists through this set, so it is written before the first BLMOVE.
        if (!this.announced) await this.conn.run((c) => c.sadd(keys.landings(proc), this.queue), "SADD");
        this.announced = true;
        this.waiting = true;
        const block = this.blockSeconds();
        // The gate is checked in the same tick as the BLMOVE is sent: a pause that closed it while we were
        // connecting must not let one more job leave its queue.
        const moved = await this.conn.run(
          (c) => (this.gate.isOpen ? c.send("BLMOVE", [keys.queue(this.queue), keys.landing(proc, this.queue), "LEFT", "RIGHT", String(block)]) : Promise.resolve(null)),
          "BLMOVE",
          (block + settings.commandTimeout) * 1000,
        );
        this.waiting = false;
        attempt = 0;
        this.ctx.outage.recovered();
        if (moved !== null) this.landed();
      } catch (e) {
        this.waiting = false;
        if (this.stopped) break;
        if (this.cancelled) {
          this.cancelled = false;
          continue;
        }
        if (isTransient(e)) this.ctx.outage.failed(e);
        else this.ctx.log.error(`waiting on queue ${this.queue} failed: ${(e as Error).message}`);
        await sleep(backoffMs(attempt++, Math.random()), this.ctx.hardStop);
      }
    }
  }

  /** End a pending BLMOVE now (pause): the job stays in its queue, where Resque's tools expect it while paused. */
  cancel(): void {
    if (this.stopped || !this.waiting) return;
    this.cancelled = true;
    this.conn.drop();
  }

  /** Closing the socket ends a pending BLMOVE at once; a job it already moved stays in the landing list. */
  stop(): Promise<void> {
    this.stopped = true;
    this.conn.close();
    this.gate.release();
    return this.done;
  }
}

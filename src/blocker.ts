// Sub-millisecond pickup without polling (issue #5): while a lane is idle, one connection per queue waits in
// BLMOVE queue:<q> -> landing:<proc>:<q>. The move is atomic, so a job that lands is already recorded as ours
// (issue #4); it starts at once in a free slot, and the lane's next cycle turns it into that slot's state.
// The landing list must then hold exactly that one job, so a blocker waits until its job is recorded (or the
// list handed back) before it waits again, and after any failed wait (a reply may have been lost) it has the
// list handed back to the queue first. A blocker re-arms only while some lane is idle, so a busy worker does
// not hoard jobs other workers could run.
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

  constructor(
    private readonly ctx: WorkerContext,
    readonly queue: string,
    private readonly gate: Gate,
    private readonly landed: (raw: string | null) => Promise<void>,
    /** Seconds one BLMOVE may block: --interval times the number of blockers, so renewals of all queues
     *  together stay at one per --interval (issue #5: an idle worker sends at most ~1 command/s). */
    private readonly blockSeconds: () => number,
  ) {
    this.conn = new RedisConn(ctx.config.target, ctx.config.commandTimeoutMs, `blocker(${queue})`);
    void this.loop();
  }

  private async loop(): Promise<void> {
    const { proc, config } = this.ctx;
    const { keys } = config;
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
          block * 1000 + config.commandTimeoutMs,
        );
        this.waiting = false;
        attempt = 0;
        this.ctx.outage.recovered();
        if (moved !== null) await this.landed(String(moved));
      } catch (e) {
        this.waiting = false;
        if (this.stopped) break;
        if (this.cancelled) this.cancelled = false;
        else if (isTransient(e)) this.ctx.outage.failed(e);
        else config.log.error(`waiting on queue ${this.queue} failed: ${(e as Error).message}`);
        // The BLMOVE may have moved a job whose reply never came: hand the landing list back first.
        if (this.announced) await this.landed(null);
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

  /**
   * Closing the socket ends a pending BLMOVE at once; a job it already moved stays in the landing list, which
   * the shutdown's release hands back. Not awaited: the loop may wait on a lane that a hard stop has ended.
   */
  stop(): void {
    this.stopped = true;
    this.conn.close();
    this.gate.release();
  }
}

// The promoter: moves due delayed items (Ruby's or ours) into their queues, in every worker process that runs
// with --promote (the default), while at most one process of the fleet, Ruby schedulers included, holds
// resque-scheduler's master lock and actually moves anything; the holder also fires recurring schedules.
// 1. Its own connection (Bun's client must not share a connection with a script in flight elsewhere, and a
//    slow promotion must not delay the fetch loop).
// 2. Standing by costs one SET NX every STANDBY_MS. The holder looks at the earliest second with one ZRANGE
//    every min(--interval, POLL_MS), and calls promote-4.lua only when a second is due or its hold needs
//    renewing (every RENEW_MS): the script renews the hold and moves one batch in the same atomic step, so
//    nothing moves without the hold; it is called again at once while items are due.
// 3. It sleeps until the next due second or schedule tick, at most the poll period: an item scheduled at
//    least --interval ahead is in its queue a few ms after its second starts, one scheduled sooner within
//    --interval. Idle: ~0.35 commands/s for the holder (script-internal ones included), 0.25 for a standby.
// 4. A schedule member that cannot be promoted (not an integer, bucket of another type) is reported and
//    skipped for a minute; items that cannot be promoted become failure entries holding their bytes.
// 5. On stop it releases the lock if it holds it (compare-and-delete).
import type { WorkerContext } from "./context";
import { BadKeyError } from "./scripts";
import { promoteScript, releaseLockScript, type PromoteResult } from "./delayed-scripts";
import { deadPredecessor, LOCK_TTL_MS, lockValue, POLL_MS, RENEW_MS, STANDBY_MS } from "./master-lock";
import { RedisConn } from "./redis";
import { failedAt } from "./resque-time";
import { backoffMs } from "./retry";
import type { Schedule } from "./schedule";
import { Scheduler } from "./scheduler";

export interface PromoterOptions {
  instance: string;
  /** Items per script call. */
  batch?: number;
  lockTtlMs?: number;
  renewMs?: number;
  standbyMs?: number;
  /** Recurring schedules to fire while holding the lock (Ruby's persisted ones are added). */
  schedules?: readonly Schedule[];
}

const SKIP_BAD_MS = 60_000;
// Woken this long after the due second starts, so that second is due when the script looks.
const WAKE_SLACK_MS = 3;

export class Promoter {
  readonly lockValue: string;
  private readonly conn: RedisConn;
  private readonly batch: number;
  private readonly ttlMs: number;
  private readonly periodMs: number;
  private readonly standbyMs: number;
  private readonly bad = new Map<string, number>();
  readonly scheduler: Scheduler;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | null = null;
  private stopped = false;
  private master = false;
  private takeOver = "";
  /** When the hold was last taken or renewed (local clock). */
  private renewedAt = 0;
  private readonly renewEveryMs: number;
  private failures = 0;
  private lastError = "";
  /** Items moved since start, for tests and logs. */
  moved = 0;

  constructor(private readonly ctx: WorkerContext, opts: PromoterOptions) {
    const { config } = ctx;
    this.lockValue = lockValue(ctx.host, process.pid, opts.instance);
    this.conn = new RedisConn(config.target, config.commandTimeoutMs, "promoter");
    this.batch = opts.batch ?? 1000;
    this.ttlMs = opts.lockTtlMs ?? LOCK_TTL_MS;
    this.periodMs = Math.min(config.intervalMs, POLL_MS);
    this.standbyMs = opts.standbyMs ?? Math.min(this.periodMs, STANDBY_MS);
    this.renewEveryMs = opts.renewMs ?? RENEW_MS;
    this.scheduler = new Scheduler(ctx, this.conn, opts.schedules ?? [], this.lockValue, this.periodMs + 2000);
  }

  get holding(): boolean {
    return this.master;
  }

  /** Looks once whether the holder is a dead predecessor on this host, then starts the loop. */
  async start(): Promise<void> {
    try {
      const holder = await this.conn.run((c) => c.get(this.ctx.config.keys.schedulerLock), "GET master lock");
      this.takeOver = deadPredecessor(holder, this.ctx.host, process.pid);
      if (this.takeOver) this.ctx.config.log.info(`resque-scheduler's master lock is held by ${this.takeOver}, a process of this host that no longer runs: taking it over`);
    } catch {
      // The loop reports Redis errors.
    }
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.loop().finally(() => (this.running = null));
    }, ms);
  }

  private async loop(): Promise<void> {
    let next: number;
    try {
      next = await this.pass();
      this.failures = 0;
    } catch (e) {
      next = Math.min(this.standbyMs, backoffMs(this.failures++, Math.random()));
      this.report(e);
    }
    this.schedule(next);
  }

  private report(e: unknown): void {
    const { log } = this.ctx.config;
    if (e instanceof BadKeyError) {
      if (e.message !== this.lastError) log.error(`delayed jobs are not promoted: ${e.message}`);
      this.lastError = e.message;
      return;
    }
    this.ctx.outage.failed(e);
  }

  /** Promotes until nothing is due, fires due schedule ticks; resolves to how long to sleep. */
  async pass(): Promise<number> {
    const { log, keys } = this.ctx.config;
    if (!this.master && !this.takeOver) {
      // Standing by costs one command: Ruby's acquire (SETNX + EXPIRE) as one SET.
      const took = await this.conn.run((c) => c.send("SET", [keys.schedulerLock, this.lockValue, "NX", "PX", String(this.ttlMs)]), "SET NX master lock");
      if (took !== "OK") return this.standbyMs;
      this.gained();
    }
    if (this.master && !this.takeOver && Date.now() - this.renewedAt < this.renewEveryMs) {
      // Holding, with a recent renewal: one plain look at the earliest second; the script only when one is due.
      const earliest = await this.conn.run((c) => c.send("ZRANGE", [keys.delayedSchedule, "0", String(this.bad.size), "WITHSCORES"]), "ZRANGE schedule");
      const next = this.earliestKept(earliest);
      if (next === null || next * 1000 > Date.now()) return this.afterPromotion(next);
    }
    return this.promote();
  }

  private gained(): void {
    if (!this.master) this.ctx.config.log.info(`holding resque-scheduler's master lock as ${this.lockValue}: this process promotes due delayed jobs`);
    this.master = true;
    this.renewedAt = Date.now();
  }

  /** The earliest second in a ZRANGE ... WITHSCORES reply that is not skipped (RESP3 pairs or a flat RESP2 list). */
  private earliestKept(reply: unknown): number | null {
    const flat = (Array.isArray(reply) ? reply : []).flat() as unknown[];
    for (let i = 0; i + 1 < flat.length; i += 2) if (!this.bad.has(String(flat[i]))) return Number(flat[i + 1]);
    return null;
  }

  /** Script calls until nothing is due: each renews the hold and moves one batch. */
  private async promote(): Promise<number> {
    const { config } = this.ctx;
    const { log, keys } = config;
    for (;;) {
      const now = Date.now();
      for (const [m, until] of this.bad) if (until <= now) this.bad.delete(m);
      const input = {
        lockValue: this.lockValue, takeOver: this.takeOver, lockTtlMs: this.ttlMs, batch: this.batch, nowMs: now,
        failedAt: failedAt(config.clock.now()), worker: `${this.ctx.host}:${process.pid}:delayed-promoter`, skip: [...this.bad.keys()],
      };
      const r: PromoteResult = await this.conn.run((c) => promoteScript(c, keys, input), "promote");
      this.takeOver = "";
      this.lastError = "";
      if (!r.master) return this.lost(r.holder);
      this.gained();
      this.moved += r.moved;
      if (r.failed) log.warn(`${r.failed} delayed item(s) could not be promoted (not JSON, no class or no queue): they are failure entries in ${keys.failed}, with their bytes`);
      if (r.bad) {
        log.error(`delayed second ${JSON.stringify(r.bad.member)} in ${keys.delayedSchedule} cannot be promoted: ${r.bad.why}; skipped (looked at again in a minute)`);
        this.bad.set(r.bad.member, Date.now() + SKIP_BAD_MS);
        continue;
      }
      if (r.more && !this.stopped) continue;
      return this.afterPromotion(r.next);
    }
  }

  private lost(holder: string): number {
    if (this.master) this.ctx.config.log.warn(`resque-scheduler's master lock is now held by ${holder}: this process stops promoting delayed jobs`);
    this.master = false;
    return this.standbyMs;
  }

  /** Fires due schedule ticks; the sleep until the next due second, tick or renewal, at most the period. */
  private async afterPromotion(nextDue: number | null): Promise<number> {
    if (!(await this.scheduler.fire(Date.now()))) return this.lost("another process");
    const now = Date.now();
    // Renewals ride on these wakes (the first one RENEW_MS after the last), so they cost no extra wake.
    let wake = now + this.periodMs;
    if (nextDue !== null) wake = Math.min(wake, nextDue * 1000 + WAKE_SLACK_MS);
    const tick = this.scheduler.nextTick(now);
    if (tick !== null) wake = Math.min(wake, tick + WAKE_SLACK_MS);
    return Math.max(0, wake - now);
  }

  /** Stops the loop and gives the lock up if held (so a successor need not wait for it to lapse). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    try {
      if (this.master) await this.conn.run((c) => releaseLockScript(c, this.ctx.config.keys, this.lockValue), "release master lock");
    } catch {
      // It lapses within the TTL.
    } finally {
      this.master = false;
      this.conn.close();
    }
  }
}

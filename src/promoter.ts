// The promoter: moves due delayed items (Ruby's or ours) into their queues, in every worker process that runs
// with --promote (the default), while at most one process of the fleet, Ruby schedulers included, holds
// resque-scheduler's master lock and actually moves anything.
// 1. Its own connection (Bun's client must not share a connection with a script in flight elsewhere, and a
//    slow promotion must not delay the fetch loop).
// 2. Each call of promote-4.lua takes or renews the lock and moves one batch in the same atomic step; the
//    promoter calls again at once while items are due.
// 3. Then it sleeps until the next due second (the script returns it, by the Redis clock), at most --interval
//    (and at most RENEW_MS, to renew the hold); a process that does not hold the lock tries every STANDBY_MS.
//    So an item scheduled at least --interval ahead is in its queue a few ms after its second starts, and
//    one scheduled sooner within --interval; an idle holder sends one command per min(--interval, 5 s).
// 4. A schedule member that cannot be promoted (not an integer, bucket of another type) is reported and
//    skipped for a minute; items that cannot be promoted become failure entries holding their bytes.
// 5. On stop it releases the lock if it holds it (compare-and-delete).
import type { WorkerContext } from "./context";
import { BadKeyError } from "./scripts";
import { promoteScript, releaseLockScript, type PromoteResult } from "./delayed-scripts";
import { deadPredecessor, LOCK_TTL_MS, lockValue, RENEW_MS, STANDBY_MS } from "./master-lock";
import { RedisConn } from "./redis";
import { failedAt } from "./resque-time";
import { backoffMs } from "./retry";

export interface PromoterOptions {
  instance: string;
  /** Items per script call. */
  batch?: number;
  lockTtlMs?: number;
  renewMs?: number;
  standbyMs?: number;
}

const SKIP_BAD_MS = 60_000;
// Woken this long after the due second starts on the Redis clock, so the script's TIME is past it.
const WAKE_SLACK_MS = 3;

export class Promoter {
  readonly lockValue: string;
  private readonly conn: RedisConn;
  private readonly batch: number;
  private readonly ttlMs: number;
  private readonly periodMs: number;
  private readonly standbyMs: number;
  private readonly bad = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | null = null;
  private stopped = false;
  private master = false;
  private takeOver = "";
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
    this.periodMs = Math.min(config.intervalMs, opts.renewMs ?? RENEW_MS);
    this.standbyMs = opts.standbyMs ?? STANDBY_MS;
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

  /** Promotes until nothing is due; resolves to how long to sleep. */
  async pass(): Promise<number> {
    const { config } = this.ctx;
    const { log, keys } = config;
    for (;;) {
      const now = Date.now();
      for (const [m, until] of this.bad) if (until <= now) this.bad.delete(m);
      const input = {
        lockValue: this.lockValue, takeOver: this.takeOver, lockTtlMs: this.ttlMs, batch: this.batch,
        failedAt: failedAt(config.clock.now()), worker: `${this.ctx.host}:${process.pid}:delayed-promoter`, skip: [...this.bad.keys()],
      };
      const r: PromoteResult = await this.conn.run((c) => promoteScript(c, keys, input), "promote");
      this.takeOver = "";
      this.lastError = "";
      if (!r.master) {
        if (this.master) log.warn(`resque-scheduler's master lock is now held by ${r.holder}: this process stops promoting delayed jobs`);
        this.master = false;
        return this.standbyMs;
      }
      if (!this.master) log.info(`holding resque-scheduler's master lock as ${this.lockValue}: this process promotes due delayed jobs`);
      this.master = true;
      this.moved += r.moved;
      if (r.failed) log.warn(`${r.failed} delayed item(s) could not be promoted (not JSON, no class or no queue): they are failure entries in ${keys.failed}, with their bytes`);
      if (r.bad) {
        log.error(`delayed second ${JSON.stringify(r.bad.member)} in ${keys.delayedSchedule} cannot be promoted: ${r.bad.why}; skipped (looked at again in a minute)`);
        this.bad.set(r.bad.member, Date.now() + SKIP_BAD_MS);
        continue;
      }
      if (r.more && !this.stopped) continue;
      if (r.next === null) return this.periodMs;
      return Math.max(0, Math.min(this.periodMs, r.next * 1000 - r.nowMs + WAKE_SLACK_MS));
    }
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

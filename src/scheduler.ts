// Recurring schedules, fired by the promoter while it holds resque-scheduler's master lock (reference 3):
// 1. the schedules are this program's (schedule(), --schedule file) plus Ruby's persisted dynamic ones
//    (`persistent_schedules`, read again every minute; a bad one is reported once and skipped);
// 2. at each wake the latest tick of each schedule is enqueued if it is recent (within the grace) and later
//    than the last one enqueued, by fire-schedule-5.lua: fenced by the lock and recorded in the same step, so
//    each tick is enqueued once across the fleet and across master handovers, and ticks missed while no
//    process held the lock are not replayed (as a stopped Ruby scheduler or cron does not replay them);
// 3. the promoter sleeps until the next tick of any schedule.
import type { WorkerContext } from "./context";
import { fireScheduleScript } from "./delayed-scripts";
import type { RedisConn } from "./redis";
import { startedAt } from "./resque-time";
import { parseSchedule, type Schedule, type ScheduleConfig } from "./schedule";

const RELOAD_MS = 60_000;

export class Scheduler {
  private persistent: Schedule[] = [];
  private loadedAt = -Infinity;
  private readonly reported = new Set<string>();
  /** Last tick seen enqueued (by us or, as the script told us, by another master), per schedule. */
  private readonly done = new Map<string, number>();
  /** Ticks enqueued by this process, for tests and logs. */
  fired = 0;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly conn: RedisConn,
    private readonly statics: readonly Schedule[],
    private readonly lockValue: string,
    /** How late a tick may still be enqueued. */
    private readonly graceMs: number,
  ) {}

  private all(): Schedule[] {
    const names = new Set(this.persistent.map((s) => s.name));
    return [...this.statics.filter((s) => !names.has(s.name)), ...this.persistent];
  }

  private async reload(nowMs: number): Promise<void> {
    if (nowMs - this.loadedAt < RELOAD_MS) return;
    const { keys, log } = this.ctx.config;
    const raw = ((await this.conn.run((c) => c.hgetall(keys.persistentSchedules), "HGETALL persistent_schedules")) ?? {}) as Record<string, string>;
    this.loadedAt = nowMs;
    const loaded: Schedule[] = [];
    for (const [name, json] of Object.entries(raw)) {
      try {
        loaded.push(parseSchedule(name, JSON.parse(json) as ScheduleConfig));
      } catch (e) {
        const why = `${name}=${json}`;
        if (!this.reported.has(why)) log.error(`persistent schedule in ${keys.persistentSchedules} skipped: ${(e as Error).message}`);
        this.reported.add(why);
      }
    }
    this.persistent = loaded;
  }

  /** Enqueues every recent tick not yet enqueued; nowMs is the Redis clock. Returns false if the lock was lost. */
  async fire(nowMs: number): Promise<boolean> {
    await this.reload(nowMs);
    const { keys, log } = this.ctx.config;
    for (const s of this.all()) {
      const tick = s.latest(new Date(nowMs))?.getTime();
      if (tick === undefined || nowMs - tick > this.graceMs || (this.done.get(s.name) ?? -Infinity) >= tick) continue;
      const input = { lockValue: this.lockValue, name: s.name, tickMs: tick, queue: s.queue, payload: s.payload, at: startedAt(new Date(nowMs)) };
      const r = await this.conn.run((c) => fireScheduleScript(c, keys, input), "fire schedule");
      if (r === "not-master") return false;
      this.done.set(s.name, tick);
      if (r === "enqueued") {
        this.fired++;
        log.debug(`schedule ${s.name}: enqueued ${s.payload} on ${s.queue} for ${new Date(tick).toISOString()}`);
      }
    }
    return true;
  }

  /** The next tick of any schedule after nowMs, or null. */
  nextTick(nowMs: number): number | null {
    let next: number | null = null;
    for (const s of this.all()) {
      const t = s.next(new Date(nowMs))?.getTime();
      if (t !== undefined && (next === null || t < next)) next = t;
    }
    return next;
  }
}

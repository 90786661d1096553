// Registration and heartbeats, Resque's way (reference sections 1 and 6), for every slot id at once:
// 1. register: SADD workers, SET worker:<id>:started (only when new), HSET workers:heartbeat;
// 2. every --heartbeat-interval: the same script again, which re-registers any id that was removed from
//    outside (a Ruby worker's prune, Resque.remove_worker) and stamps our own beat with the Redis clock;
// 3. unregistration is part of release-6.lua, so it happens together with handing jobs back.
import type { WorkerContext } from "./context";
import type { RedisConn } from "./redis";
import { heartbeatAt, startedAt } from "./resque-time";
import { runScript, scripts } from "./scripts";

export class Heartbeat {
  private timer: ReturnType<typeof setInterval> | undefined;
  private beating = false;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly conn: RedisConn,
    private readonly ids: string[],
  ) {}

  /** One registration/heartbeat; resolves to the number of ids that had to be (re-)registered. */
  beat(): Promise<number> {
    const { keys, proc } = this.ctx;
    const now = this.ctx.now();
    return this.conn.run(
      (c) => runScript<number>(c, scripts.heartbeat, [keys.workers, keys.heartbeats, keys.processes, keys.beats],
        [proc, heartbeatAt(now), startedAt(now), keys.workerPrefix, JSON.stringify(this.ids), ...this.ids]),
      "heartbeat",
    );
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.ctx.settings.heartbeatInterval * 1000);
  }

  private async tick(): Promise<void> {
    if (this.beating) return;
    this.beating = true;
    try {
      const added = await this.beat();
      this.ctx.outage.recovered();
      if (added > 0) this.ctx.log.warn(`${added} of this process's worker ids had been unregistered from outside; registered them again`);
    } catch (e) {
      this.ctx.outage.failed(e);
    } finally {
      this.beating = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

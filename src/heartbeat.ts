// Registration and heartbeats, Resque's way (reference sections 1 and 6), for every slot id at once:
// 1. register: SADD workers, SET worker:<id>:started (only when new), HSET workers:heartbeat;
// 2. every --heartbeat-interval: the same script again, which re-registers any id that was removed from
//    outside (a Ruby worker's prune, Resque.remove_worker) and stamps our own beat with the Redis clock;
// 3. unregistration is part of release-6.lua, so it happens together with handing jobs back.
import type { WorkerContext } from "./context";
import { Periodic } from "./periodic";
import type { RedisConn } from "./redis";
import { heartbeatAt, startedAt } from "./resque-time";
import { heartbeat } from "./scripts";

export class Heartbeat {
  private readonly periodic: Periodic;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly conn: RedisConn,
    private readonly ids: readonly string[],
  ) {
    this.periodic = new Periodic(ctx.config.heartbeatMs, () => this.tick(), (e) => ctx.outage.failed(e));
  }

  /** One registration/heartbeat; resolves to the number of ids that had to be (re-)registered. */
  beat(): Promise<number> {
    const { proc, config } = this.ctx;
    const now = config.clock.now();
    const input = { proc, ids: this.ids, heartbeatAt: heartbeatAt(now), startedAt: startedAt(now) };
    return this.conn.run((c) => heartbeat(c, config.keys, input), "heartbeat");
  }

  start(): void {
    this.periodic.start();
  }

  stop(): void {
    this.periodic.stop();
  }

  private async tick(): Promise<void> {
    const added = await this.beat();
    this.ctx.outage.recovered();
    if (added > 0) this.ctx.config.log.warn(`${added} of this process's worker ids had been unregistered from outside; registered them again`);
  }
}

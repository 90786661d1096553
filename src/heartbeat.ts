// Registration and heartbeats, Resque's way (reference sections 1 and 6), for every slot id at once:
// 1. register: SADD workers, SET worker:<id>:started (only when new), HSET workers:heartbeat;
// 2. every --heartbeat-interval: the same script again, which re-registers any id that was removed from
//    outside (a Ruby worker's prune, Resque.remove_worker, a reaper while we were frozen), stamps our own
//    beat with the Redis clock and our liveness identity, and returns everyone's beats for the reaper;
// 3. unregistration is part of release-5.lua, so it happens together with handing jobs back.
import type { WorkerContext } from "./context";
import { recordMinute } from "./history";
import { beatIdentity, type Identity } from "./identity";
import { Periodic } from "./periodic";
import type { RedisConn } from "./redis";
import { heartbeatAt, startedAt } from "./resque-time";
import { heartbeat, type HeartbeatResult } from "./scripts";

export class Heartbeat {
  private readonly periodic: Periodic;
  private readonly identity: string;
  /** The minute (of our clock) whose history call succeeded: the next call waits for the next minute. */
  private historyMinute = -1;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly conn: RedisConn,
    private readonly ids: readonly string[],
    identity: Identity,
    /** After each periodic beat: find and release dead processes. */
    private readonly onBeat: (r: HeartbeatResult) => Promise<unknown>,
    onError: (e: unknown) => void,
  ) {
    // The beat's validity travels with it (identity.ts parseBeat): "<identity>|<our --dead-after in ms>".
    this.identity = beatIdentity(identity, ctx.config.deadAfterMs);
    this.periodic = new Periodic(ctx.config.heartbeatMs, () => this.tick(), onError);
  }

  /** One registration/heartbeat. */
  beat(): Promise<HeartbeatResult> {
    const { proc, config } = this.ctx;
    const now = config.clock.now();
    const input = { proc, ids: this.ids, heartbeatAt: heartbeatAt(now), startedAt: startedAt(now), identity: this.identity };
    const minute = Math.floor(now.getTime() / 60_000);
    return this.conn.run((c) => {
      // The dashboard's per-minute history (history.ts): once per minute of our clock, pipelined with a beat
      // (every beat would triple an idle worker's cost of it); the script records by Redis's clock, so a skewed
      // host still records each Redis minute once. Only statistics: its failure is not the heartbeat's, and the
      // next beat tries again. The bound is looked at every tenth minute (an HLEN a minute is idle traffic).
      if (minute !== this.historyMinute) {
        recordMinute(c, config.keys, minute % 10 === 0).then(() => (this.historyMinute = minute), () => {});
      }
      return heartbeat(c, config.keys, input);
    }, "heartbeat");
  }

  start(): void {
    this.periodic.start();
  }

  stop(): void {
    this.periodic.stop();
  }

  private async tick(): Promise<void> {
    const r = await this.beat();
    this.ctx.outage.recovered();
    if (r.added > 0) this.ctx.config.log.warn(`${r.added} of this process's worker ids had been unregistered from outside; registered them again`);
    if (r.rebuilt) this.ctx.config.log.warn(`this process's entry in ${this.ctx.config.keys.processes} was missing or garbled; wrote it again (release finds its worker ids by it)`);
    await this.onBeat(r);
  }
}

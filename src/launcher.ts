// One worker process from start to exit (Sidekiq's launcher):
// 1. connect: wait up to --command-timeout for Redis; a wrong password or certificate fails at once;
// 2. recover: a predecessor with our pid and any dead process (reaper.ts); register every slot, set the
//    procline, start heartbeats, the reaper and the manager (slots, lanes, blockers: manager.ts);
// 3. run until stop() or, with --exit-on-complete, until every queue is empty and no job runs;
// 4. stop in stages (River's fetch vs work contexts): quiet (no fetching, blockers closed), wait for running
//    jobs until --shutdown-timeout or a second signal, abort the rest through their AbortSignal, then hand
//    back every unfinished or landed job to the front of its queue and unregister, in one script.
// Delivery guarantee: at least once. A job is in its queue, in a landing list or in a worker:<id> state at
// every instant; a KILL leaves it in Redis, where the next start or another worker's reaper finds it.
import { hostname } from "node:os";
import type { Config } from "./config";
import type { WorkerContext } from "./context";
import { ConnectionError } from "./errors";
import { Heartbeat } from "./heartbeat";
import { Manager } from "./manager";
import { setProcline } from "./procline";
import { idQueues } from "./queues";
import { Reaper } from "./reaper";
import { RedisConn } from "./redis";
import type { Registry } from "./registry";
import { Outage, retrying, sleep } from "./retry";
import { Runner } from "./runner";
import { VERSION } from "./version";

export type StopMode = "graceful" | "now";

// How often shutdown looks whether the running jobs have finished or their acks have gone out.
const DRAIN_POLL_MS = 10;
const FLUSH_POLL_MS = 5;

export class Launcher {
  readonly ctx: WorkerContext;
  readonly ids: string[];
  private readonly hard = new AbortController();
  private readonly conns: RedisConn[];
  private readonly heartbeat: Heartbeat;
  private readonly reaper: Reaper;
  private readonly manager: Manager;
  private stopRequested: (mode: StopMode) => void = () => {};
  private readonly stopWanted: Promise<StopMode>;

  constructor(config: Config, registry: Registry) {
    const host = hostname().replace(/:/g, "_");
    const proc = `${host}:${process.pid}`;
    this.ctx = { config, proc, host, outage: new Outage(config.log, config.target.display), hardStop: this.hard.signal };
    // One Resque worker per slot: host:pid:queues:slot. The pid field stays bare so that Ruby's prune finds
    // it among `ps` pids (see procline.ts); the slot number goes last, after the queues.
    this.ids = Array.from({ length: config.concurrency }, (_, i) => `${proc}:${idQueues([...config.queues])}:${i}`);
    this.conns = Array.from({ length: config.connections }, (_, i) => new RedisConn(config.target, config.commandTimeoutMs, `redis#${i}`));
    const conn = this.conns[0] as RedisConn;
    this.heartbeat = new Heartbeat(this.ctx, conn, this.ids);
    this.reaper = new Reaper(this.ctx, conn);
    const runner = new Runner({ registry, useNumber: config.useNumber, jobTimeoutMs: config.jobTimeoutMs, log: config.log });
    this.manager = new Manager(this.ctx, this.conns, this.ids, runner, () => this.stop("graceful"));
    this.stopWanted = new Promise((resolve) => (this.stopRequested = resolve));
  }

  /** Resolves when the worker has stopped and unregistered; rejects if it cannot start. `beforeJobs` runs once Redis answers. */
  async run(beforeJobs?: () => Promise<void>): Promise<void> {
    await this.connect();
    await beforeJobs?.();
    await this.start();
    const mode = await this.stopWanted;
    await this.shutdown(mode);
  }

  stop(mode: StopMode = "graceful"): void {
    if (mode === "now") this.hard.abort();
    this.stopRequested(mode);
  }

  hold(held: boolean): void {
    this.manager.hold(held);
  }

  private async start(): Promise<void> {
    const { config, proc } = this.ctx;
    const { log } = config;
    if (config.insecureTls) log.warn("--insecure-tls: the Redis server's TLS certificate is NOT verified");
    // Other dead processes are recovered alongside start-up (their jobs return to their queues, where the
    // blockers see them); only --exit-on-complete must wait, or it could find the queues empty too early.
    const sweep = this.reaper.sweepAtStart().catch((e) => this.ctx.outage.failed(e));
    const { requeued } = await this.reaper.release(proc, config.deadJobs);
    if (requeued > 0) log.warn(`recovered ${requeued} job(s) left by an earlier process with pid ${process.pid}`);
    await this.heartbeat.beat();
    if (config.exitOnComplete) await sweep;
    setProcline(`resque-3.0.0: bunworker ${VERSION} ${idQueues([...config.queues])} x${config.concurrency}`);
    this.heartbeat.start();
    this.reaper.start();
    await this.manager.start();
    log.info(`bunworker ${VERSION} started: ${config.concurrency} slots on ${idQueues([...config.queues])}, Redis ${config.target.display}, pid ${process.pid}`);
  }

  private async connect(): Promise<void> {
    const { config } = this.ctx;
    const deadline = Date.now() + config.commandTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await (this.conns[0] as RedisConn).run((c) => c.ping(), "PING");
        return;
      } catch (e) {
        const code = (e as { code?: string }).code ?? "";
        // A wrong password or an untrusted certificate will not get better by waiting.
        const permanent = /AUTH|PASSWORD|TLS|CERT/.test(code) || /WRONGPASS|NOAUTH|certificate|CERT_|SELF_SIGNED/i.test((e as Error).message);
        if (Date.now() > deadline || permanent) {
          throw new ConnectionError(`cannot reach Redis at ${config.target.display}: ${(e as Error).message}`);
        }
        await sleep(Math.min(500, 50 * 2 ** attempt));
      }
    }
  }

  private async shutdown(mode: StopMode): Promise<void> {
    const { config, proc } = this.ctx;
    const { log } = config;
    log.info(`stopping: no new jobs; ${this.manager.runningJobs} running job(s) get up to ${config.shutdownTimeoutMs / 1000} s`);
    this.manager.quiet();
    const deadline = Date.now() + config.shutdownTimeoutMs;
    while (mode === "graceful" && !this.hard.signal.aborted && !this.manager.drained && Date.now() < deadline) await sleep(Math.min(DRAIN_POLL_MS, deadline - Date.now()), this.hard.signal);
    const abandoned = this.manager.abandonRunning();
    // Acks of jobs that did finish go out first, or release would requeue finished jobs.
    const flushBy = Date.now() + config.commandTimeoutMs;
    while (!this.ctx.outage.down && this.manager.flushing && Date.now() < flushBy) await sleep(FLUSH_POLL_MS);
    this.hard.abort();
    this.heartbeat.stop();
    this.reaper.stop();
    const final = new AbortController();
    const giveUp = setTimeout(() => final.abort(), config.commandTimeoutMs * 2);
    try {
      const { requeued } = await retrying(() => this.reaper.release(proc, "requeue"), this.ctx.outage, final.signal);
      log.info(`stopped: ${requeued} job(s) handed back to their queues (${abandoned} still running at the deadline); workers unregistered`);
    } finally {
      clearTimeout(giveUp);
      for (const c of this.conns) c.close();
    }
  }
}

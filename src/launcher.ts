// One worker process from start to exit (Sidekiq's launcher):
// 1. connect: wait up to --command-timeout for Redis; a wrong password or certificate fails at once;
// 2. check the shared keys (preflight.ts), run the program's onStart hooks (lifecycle.ts), register every
//    slot, recover dead processes (reaper.ts, driven by every heartbeat), set the procline, start heartbeats,
//    the beat thread (pulse.ts: beats while a job blocks the event loop), the manager (slots, lanes, watchers)
//    and the promoter (promoter.ts); the job guard (job-guard.ts) is in place from start to exit, so job code
//    that calls process.exit fails its job instead of ending the worker;
// 3. run until stop(), a key that cannot be written (fatal, exit status 1) or, with --exit-on-complete,
//    until every queue is empty and no job runs;
// 4. stop in stages (River's fetch vs work contexts): quiet (no fetching, no watching), wait for running
//    jobs until --shutdown-timeout or a second signal, abort the rest through their AbortSignal, then hand
//    back every unfinished job to the front of its queue and unregister, in one script; then the onStop hooks.
// Delivery guarantee: at least once. A job is in its queue or in a worker:<id> state at every instant; a
// KILL leaves it in Redis, where the next start or another worker's reaper finds it.
import { hostname } from "node:os";
import type { Config } from "./config";
import type { WorkerContext } from "./context";
import { ConnectionError } from "./errors";
import { warnIfEvicting } from "./eviction";
import { Heartbeat } from "./heartbeat";
import { Lifecycle, type WorkerInfo } from "./lifecycle";
import type { MiddlewareStack } from "./middleware";
import { beatIdentity, newInstanceId, ownIdentity } from "./identity";
import { JobGuard } from "./job-guard";
import { Manager } from "./manager";
import { keepUnsent, recordKept } from "./outcomes";
import { preflight } from "./preflight";
import { setProcline } from "./procline";
import { idQueues } from "./queues";
import { Pulse } from "./pulse";
import { Reaper } from "./reaper";
import { RedisConn } from "./redis";
import type { Registry } from "./registry";
import { Retrier } from "./retrier";
import { Promoter } from "./promoter";
import type { Schedule } from "./schedule";
import { Outage, retrying, sleep } from "./retry";
import type { JobObserver } from "./metrics";
import { Runner } from "./runner";
import { BadKeyError } from "./scripts";
import { VERSION } from "./version";

export type StopMode = "graceful" | "now";

/** What a program adds around its jobs: use()d middleware and onStart/onStop hooks. */
export interface JobExtras {
  middleware?: MiddlewareStack;
  lifecycle?: Lifecycle;
  /** Recurring schedules registered with schedule(), beside --schedule's file. */
  schedules?: readonly Schedule[];
  /** Metrics (--metrics-port): told each job's outcome. */
  observer?: JobObserver | null;
}

// How often shutdown looks whether the running jobs have finished or their acks have gone out.
const DRAIN_POLL_MS = 10;
const FLUSH_POLL_MS = 5;

export class Launcher {
  readonly ctx: WorkerContext;
  readonly ids: string[];
  private readonly hard = new AbortController();
  /** Aborted by a second signal: onStop is no longer waited for. */
  private readonly cut = new AbortController();
  private readonly lifecycle: Lifecycle;
  private readonly conns: RedisConn[];
  private readonly heartbeat: Heartbeat;
  private readonly reaper: Reaper;
  private readonly manager: Manager;
  /** Due delayed jobs into their queues, under resque-scheduler's master lock (--promote). */
  readonly promoter: Promoter | null;
  private readonly pulse: Pulse;
  private readonly guard: JobGuard;
  private stopRequested: (mode: StopMode) => void = () => {};
  private readonly stopWanted: Promise<StopMode>;
  /** Why the worker stopped on its own: a key it must write is unusable. */
  private fatalError: BadKeyError | null = null;

  constructor(config: Config, registry: Registry, extras: JobExtras = {}) {
    this.lifecycle = extras.lifecycle ?? new Lifecycle();
    const host = hostname().replace(/:/g, "_");
    // The instance id makes a process unique even with equal hostname and pid (containers, issue #9).
    const instance = newInstanceId();
    const proc = `${host}:${process.pid}:${instance}`;
    this.ctx = { config, proc, host, outage: new Outage(config.log, config.target.display), hardStop: this.hard.signal };
    // One Resque worker per slot: host:pid:queues:slot.instance. The pid field stays bare so that Ruby's prune
    // finds it among `ps` pids (see procline.ts); what makes it unique goes last, after the queues.
    this.ids = Array.from({ length: config.concurrency }, (_, i) => `${host}:${process.pid}:${idQueues([...config.queues])}:${i}.${instance}`);
    this.conns = Array.from({ length: config.connections }, (_, i) => new RedisConn(config.target, config.commandTimeoutMs, `redis#${i}`));
    const conn = this.conns[0] as RedisConn;
    const identity = ownIdentity();
    this.reaper = new Reaper(this.ctx, conn, { proc, identity });
    this.heartbeat = new Heartbeat(this.ctx, conn, this.ids, identity, (r) => this.reaper.reap(r.beats, r.nowMs), (e) => this.failed(e));
    // Issue #14: beats go on from a thread while a job blocks the event loop; what job code does to the process
    // (exit, abort, uncaught throws) fails that job instead of ending the worker.
    this.pulse = new Pulse(this.ctx, this.ids, beatIdentity(identity, config.deadAfterMs));
    this.guard = new JobGuard(config.log, this.pulse);
    const runner = new Runner({ registry, useNumber: config.useNumber, jobTimeoutMs: config.jobTimeoutMs, log: config.log, guard: this.guard, middleware: extras.middleware, observer: extras.observer, retrier: new Retrier(this.ctx, conn) });
    this.manager = new Manager(this.ctx, this.conns, this.ids, runner, { complete: () => this.stop("graceful"), fatal: (e) => this.failed(e) });
    this.promoter = config.promote ? new Promoter(this.ctx, { instance, schedules: [...config.schedules, ...(extras.schedules ?? [])] }) : null;
    this.stopWanted = new Promise((resolve) => (this.stopRequested = resolve));
  }

  /** A periodic task failed: an outage is waited out; a key that can never be written stops the worker. */
  private failed(e: unknown): void {
    if (!(e instanceof BadKeyError)) return this.ctx.outage.failed(e);
    if (this.fatalError) return;
    this.fatalError = e;
    this.ctx.config.log.error(`${e.message}; stopping (unfinished jobs go back to their queues; finished ones are kept, not run again)`);
    this.stop("graceful");
  }

  /** Resolves when the worker has stopped and unregistered; rejects if it cannot start. `beforeJobs` runs once Redis answers. */
  async run(beforeJobs?: () => Promise<void>): Promise<void> {
    const unguard = this.guard.install();
    try {
      await this.runGuarded(beforeJobs);
    } finally {
      this.pulse.stop();
      unguard();
    }
  }

  /** An uncaught exception: true when it came from a job, which then fails with it (job-guard.ts). */
  uncaught(e: unknown): boolean {
    return this.guard.uncaught(e);
  }

  private async runGuarded(beforeJobs?: () => Promise<void>): Promise<void> {
    await this.connect();
    // Independent of each other, so in parallel (issue #15): the key checks, and the program's own start-up
    // (the write probe, the client job code uses), the eviction-policy warning (#14); all still come before
    // registration and the first job.
    await Promise.all([preflight(this.conns[0] as RedisConn, this.ctx.config.keys), beforeJobs?.(), warnIfEvicting(this.conns[0] as RedisConn, this.ctx.config.log, this.ctx.config.target.display)]);
    // Finished jobs a worker stopped by a bad key could not record (outcomes.ts, #14): after the key checks.
    await recordKept(this.ctx, this.conns[0] as RedisConn);
    // Before registering: a failing onStart leaves nothing behind in Redis, and a stop signal while onStart
    // still runs (it may never settle) ends start-up the same way, without onStop.
    let started: boolean;
    try {
      started = await Promise.race([this.lifecycle.start(this.info()).then(() => true), this.stopWanted.then(() => false)]);
    } catch (e) {
      for (const c of this.conns) c.close();
      throw e;
    }
    if (!started) {
      for (const c of this.conns) c.close();
      this.ctx.config.log.info("stopped while onStart ran: nothing was registered");
      return;
    }
    await this.start();
    const mode = await this.stopWanted;
    try {
      await this.shutdown(mode);
    } catch (e) {
      // The reason the worker stopped matters more than a Redis error during the hand-back (reapers finish it).
      if (!this.fatalError) throw e;
      this.ctx.config.log.error(`could not hand the jobs back: ${(e as Error).message}`);
    }
    if (this.fatalError) throw this.fatalError;
  }

  stop(mode: StopMode = "graceful"): void {
    if (mode === "now") {
      this.hard.abort();
      this.cut.abort();
    }
    this.stopRequested(mode);
  }

  hold(held: boolean): void {
    this.manager.hold(held);
  }

  private info(): WorkerInfo {
    return { log: this.ctx.config.log, workerIds: this.ids };
  }

  private async start(): Promise<void> {
    const { config } = this.ctx;
    const { log } = config;
    if (config.insecureTls) log.warn("--insecure-tls: the Redis server's TLS certificate is NOT verified");
    // Dead processes (a predecessor with our pid among them) are recovered alongside start-up: their jobs
    // return to their queues, where the watchers see them; only --exit-on-complete must wait, or it could
    // find the queues empty too early.
    // An outage or a server at maxmemory is waited out here too; a key of the wrong type is not (BadKeyError).
    const first = await retrying(() => this.heartbeat.beat(), this.ctx.outage, this.hard.signal);
    const sweep = this.reaper.reap(first.beats, first.nowMs).catch((e) => this.failed(e));
    if (config.exitOnComplete) await sweep;
    setProcline(`resque-3.0.0: bunworker ${VERSION} ${idQueues([...config.queues])} x${config.concurrency}`);
    this.heartbeat.start();
    await this.pulse.start();
    await this.manager.start();
    await this.promoter?.start();
    log.info(`bunworker ${VERSION} started: ${config.concurrency} slots on ${idQueues([...config.queues])}, Redis ${config.target.display}, pid ${process.pid}`);
  }

  private async connect(): Promise<void> {
    const { config } = this.ctx;
    const deadline = Date.now() + config.commandTimeoutMs;
    let stopped = false;
    void this.stopWanted.then(() => (stopped = true));
    for (let attempt = 0; ; attempt++) {
      try {
        await (this.conns[0] as RedisConn).run((c) => c.ping(), "PING");
        return;
      } catch (e) {
        const code = (e as { code?: string }).code ?? "";
        // A wrong password or an untrusted certificate will not get better by waiting.
        const permanent = /AUTH|PASSWORD|TLS|CERT/.test(code) || /WRONGPASS|NOAUTH|certificate|CERT_|SELF_SIGNED|no sentinel knows a master named/i.test((e as Error).message);
        // A stop requested meanwhile (TERM, the supervisor gone) ends the wait too.
        if (Date.now() > deadline || permanent || stopped) {
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
    const promoterStopped = this.promoter?.stop();
    const deadline = Date.now() + config.shutdownTimeoutMs;
    while (mode === "graceful" && !this.hard.signal.aborted && !this.manager.drained && Date.now() < deadline) await sleep(Math.min(DRAIN_POLL_MS, deadline - Date.now()), this.hard.signal);
    const abandoned = this.manager.abandonRunning();
    // Acks of jobs that did finish go out first, or release would requeue finished jobs.
    const flushBy = Date.now() + config.commandTimeoutMs;
    while (!this.ctx.outage.down && this.manager.flushing && Date.now() < flushBy) await sleep(FLUSH_POLL_MS);
    this.hard.abort();
    this.heartbeat.stop();
    await promoterStopped;
    this.pulse.stop();
    const final = new AbortController();
    const giveUp = setTimeout(() => final.abort(), config.commandTimeoutMs * 2);
    try {
      // Finished jobs whose acks could not be written leave their states first, or release would hand them back.
      const unsent = this.manager.unsentAcks();
      await retrying(() => keepUnsent(this.ctx, this.conns[0] as RedisConn, unsent), this.ctx.outage, final.signal).catch((e) => {
        if (!(e instanceof BadKeyError)) throw e;
        log.error(`could not keep the outcomes of ${unsent.length} finished job(s), so they go back to their queues: ${e.message}`);
      });
      const { requeued } = await retrying(() => this.reaper.release(proc, "requeue"), this.ctx.outage, final.signal);
      log.info(`stopped: ${requeued} job(s) handed back to their queues (${abandoned} still running at the deadline); workers unregistered`);
    } finally {
      clearTimeout(giveUp);
      for (const c of this.conns) c.close();
      await this.lifecycle.stop(this.info(), deadline, this.cut.signal);
    }
  }
}

// One worker process from start to exit (Sidekiq's launcher + manager):
// 1. start: connect, recover a predecessor with our pid and any dead process, register every slot, set the
//    procline, start heartbeats, the reaper, the fetch lanes and (unless --exit-on-complete) the blockers;
// 2. run until stop() or, with exitOnComplete, until every queue is empty and no job runs;
// 3. stop in stages (River's fetch vs work contexts): quiet (no fetching, blockers closed), wait for running
//    jobs until --shutdown-timeout or a second signal, abort the rest through their AbortSignal, then hand
//    back every unfinished or landed job to the front of its queue and unregister, in one script.
// Delivery guarantee: at least once. A job is in its queue, in a landing list or in a worker:<id> state at
// every instant; a KILL leaves it in Redis, where the next start or another worker's reaper finds it.
import { hostname } from "node:os";
import type { ConsolaInstance } from "consola/core";
import { Blocker, Gate } from "./blocker";
import type { WorkerContext } from "./context";
import { ConnectionError } from "./errors";
import { Lane, type Slot } from "./fetcher";
import { Heartbeat } from "./heartbeat";
import { makeKeys } from "./keys";
import { setProcline } from "./procline";
import { QueueOrder, idQueues, isDynamic, resolveQueues, type QueueSpec } from "./queues";
import { Reaper } from "./reaper";
import { parseUri, RedisConn } from "./redis";
import type { Registry } from "./registry";
import { Outage, retrying, sleep } from "./retry";
import { runJob, type RunnerDeps } from "./runner";
import { validate, type Settings } from "./settings";
import { VERSION } from "./version";

export type StopMode = "graceful" | "now";

export class Launcher {
  readonly ctx: WorkerContext;
  readonly ids: string[];
  private readonly specs: QueueSpec[];
  private readonly hard = new AbortController();
  private readonly conns: RedisConn[];
  private readonly lanes: Lane[] = [];
  private readonly blockers = new Map<string, Blocker>();
  private readonly gate = new Gate();
  private readonly heartbeat: Heartbeat;
  private readonly reaper: Reaper;
  private order: QueueOrder;
  private queueTimer: ReturnType<typeof setInterval> | undefined;
  private stopping = false;
  private stopRequested: (mode: StopMode) => void = () => {};
  private readonly stopWanted: Promise<StopMode>;

  constructor(settings: Settings, private readonly registry: Registry, log: ConsolaInstance) {
    this.specs = validate(settings);
    const target = parseUri(settings.uri, settings);
    const host = hostname().replace(/:/g, "_");
    const keys = makeKeys(settings.namespace);
    const proc = `${host}:${process.pid}`;
    this.ctx = { settings, keys, target, proc, host, log, outage: new Outage(log, target.display), hardStop: this.hard.signal, now: () => new Date() };
    // One Resque worker per slot: host:pid:queues:slot. The pid field stays bare so that Ruby's prune finds
    // it among `ps` pids (see procline.ts); the slot number goes last, after the queues.
    this.ids = Array.from({ length: settings.concurrency }, (_, i) => `${proc}:${idQueues(this.specs)}:${i}`);
    const timeoutMs = settings.commandTimeout * 1000;
    this.conns = Array.from({ length: Math.min(settings.connections, settings.concurrency) }, (_, i) => new RedisConn(target, timeoutMs, `redis#${i}`));
    this.heartbeat = new Heartbeat(this.ctx, this.conns[0] as RedisConn, this.ids);
    this.reaper = new Reaper(this.ctx, this.conns[0] as RedisConn);
    this.order = new QueueOrder(isDynamic(this.specs) ? [] : this.specs.filter((s) => !s.skip));
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
    for (const lane of this.lanes) {
      lane.held = held;
      if (!held) lane.kick();
    }
    this.laneChanged();
  }

  private async start(): Promise<void> {
    const { settings, log, target, proc } = this.ctx;
    if (settings.insecureTls) log.warn("--insecure-tls: the Redis server's TLS certificate is NOT verified");
    // Other dead processes are recovered alongside start-up (their jobs return to their queues, where the
    // blockers see them); only --exit-on-complete must wait, or it could find the queues empty too early.
    const sweep = this.reaper.sweepAtStart().catch((e) => this.ctx.outage.failed(e));
    const [requeued] = await this.reaper.release(proc, settings.deadJobs);
    if (requeued > 0) log.warn(`recovered ${requeued} job(s) left by an earlier process with pid ${process.pid}`);
    await this.heartbeat.beat();
    if (settings.exitOnComplete) await sweep;
    setProcline(`resque-3.0.0: bunworker ${VERSION} ${idQueues(this.specs)} x${settings.concurrency}`);
    this.heartbeat.start();
    this.reaper.start();
    await this.refreshQueues();
    if (isDynamic(this.specs)) this.queueTimer = setInterval(() => void this.refreshQueues().catch((e) => this.ctx.outage.failed(e)), settings.interval * 1000);
    this.startLanes();
    log.info(`bunworker ${VERSION} started: ${settings.concurrency} slots on ${idQueues(this.specs)}, Redis ${target.display}, pid ${process.pid}`);
  }

  private async connect(): Promise<void> {
    const { settings, target } = this.ctx;
    const deadline = Date.now() + settings.commandTimeout * 1000;
    for (let attempt = 0; ; attempt++) {
      try {
        await (this.conns[0] as RedisConn).run((c) => c.ping(), "PING");
        return;
      } catch (e) {
        const code = (e as { code?: string }).code ?? "";
        // A wrong password or an untrusted certificate will not get better by waiting.
        const permanent = /AUTH|PASSWORD|TLS|CERT/.test(code) || /WRONGPASS|NOAUTH|certificate|CERT_|SELF_SIGNED/i.test((e as Error).message);
        if (Date.now() > deadline || permanent) {
          throw new ConnectionError(`cannot reach Redis at ${target.display}: ${(e as Error).message}`);
        }
        await sleep(Math.min(500, 50 * 2 ** attempt));
      }
    }
  }

  private startLanes(): void {
    const { settings } = this.ctx;
    const deps: RunnerDeps = { registry: this.registry, useNumber: settings.useNumber, jobTimeoutMs: settings.jobTimeout * 1000, log: this.ctx.log, debug: this.ctx.log.level >= 4 };
    const laneCount = this.conns.length;
    const groups: Slot[][] = Array.from({ length: laneCount }, () => []);
    this.ids.forEach((id, i) => groups[i % laneCount]?.push({ id, job: null, fetching: false }));
    groups.forEach((slots, i) => {
      const lane: Lane = new Lane(this.ctx, this.conns[i] as RedisConn, i, slots,
        () => this.order.next().map((q) => (this.order.queues[q] as QueueSpec).name),
        (slot, queue, flag, raw) => runJob(deps, slot.id, queue, flag, raw, (f) => lane.finished(slot, f)),
        () => this.laneChanged());
      this.lanes.push(lane);
    });
    for (const lane of this.lanes) lane.kick();
  }

  /** Dynamic lists (`*`, globs, `!skip`) follow `<ns>queues`; every list gets one blocker per queue. */
  private async refreshQueues(): Promise<void> {
    const { keys } = this.ctx;
    if (isDynamic(this.specs)) {
      const known = await retrying(() => (this.conns[0] as RedisConn).run((c) => c.smembers(keys.queues), "SMEMBERS"), this.ctx.outage, this.hard.signal);
      const resolved = resolveQueues(this.specs, known);
      const names = resolved.map((s) => s.name).join(",");
      if (names !== this.order.queues.map((s) => s.name).join(",")) this.order = new QueueOrder(resolved);
    }
    if (this.ctx.settings.exitOnComplete || this.stopping) return;
    const wanted = new Set(this.order.queues.map((s) => s.name));
    for (const [q, b] of this.blockers) if (!wanted.has(q)) b.stop(), this.blockers.delete(q);
    for (const q of wanted) if (!this.blockers.has(q)) this.blockers.set(q, new Blocker(this.ctx, q, this.gate, (raw) => this.landed(q, raw), () => this.ctx.settings.interval * Math.max(1, this.blockers.size)));
    if (isDynamic(this.specs)) this.wakeLanes();
  }

  /**
   * A blocker moved one job to landing:<queue> (raw = that job, or null when its reply was lost). Start it at
   * once in a free slot; a job whose text shows a replaced byte (not UTF-8), or one no slot can take now, goes
   * back to the front of its queue instead, for a normal fetch (which checks the bytes) to take.
   */
  private landed(queue: string, raw: string | null): Promise<void> {
    const lanes = [...this.lanes].sort((a, b) => Number(b.idle) - Number(a.idle));
    if (raw !== null && !raw.includes("\uFFFD") && !this.stopping) {
      for (const lane of lanes) {
        const slot = lane.slotForLanded();
        if (slot) {
          // More may be waiting behind it: let the idle lanes fetch as well.
          this.wakeLanes();
          return lane.adopt(slot, queue, raw);
        }
      }
    }
    return (lanes[0] as Lane).sweep(queue).then(() => this.wakeLanes());
  }

  private wakeLanes(): void {
    for (const lane of this.lanes) lane.wake();
  }

  private laneChanged(): void {
    if (this.stopping) return;
    const paused = this.lanes.some((l) => l.paused);
    this.gate.set(!paused && this.lanes.some((l) => l.idle && l.freeSlots() > 0));
    if (paused) for (const b of this.blockers.values()) b.cancel();
    if (this.ctx.settings.exitOnComplete && this.lanes.every((l) => l.idle && l.busySlots === 0 && l.pendingAcks === 0 && !l.working)) this.stop("graceful");
  }

  private drained(): boolean {
    return this.lanes.every((l) => l.busySlots === 0 && l.pendingAcks === 0 && !l.working);
  }

  private async shutdown(mode: StopMode): Promise<void> {
    const { log, settings, proc } = this.ctx;
    this.stopping = true;
    log.info(`stopping: no new jobs; ${this.lanes.reduce((n, l) => n + l.busySlots, 0)} running job(s) get up to ${settings.shutdownTimeout} s`);
    for (const lane of this.lanes) (lane.quiet = true), lane.stopTimers();
    if (this.queueTimer) clearInterval(this.queueTimer);
    for (const b of this.blockers.values()) b.stop();
    const deadline = Date.now() + settings.shutdownTimeout * 1000;
    while (mode === "graceful" && !this.hard.signal.aborted && !this.drained() && Date.now() < deadline) await sleep(Math.min(10, deadline - Date.now()), this.hard.signal);
    const abandoned = this.abandonRunning();
    // Acks of jobs that did finish go out first, or release would requeue finished jobs.
    const flushBy = Date.now() + settings.commandTimeout * 1000;
    while (!this.ctx.outage.down && this.lanes.some((l) => l.working || l.pendingAcks > 0) && Date.now() < flushBy) await sleep(5);
    this.hard.abort();
    this.heartbeat.stop();
    this.reaper.stop();
    const final = new AbortController();
    const giveUp = setTimeout(() => final.abort(), settings.commandTimeout * 2000);
    try {
      const [requeued] = await retrying(() => this.reaper.release(proc, "requeue"), this.ctx.outage, final.signal);
      log.info(`stopped: ${requeued} job(s) handed back to their queues (${abandoned} still running at the deadline); workers unregistered`);
    } finally {
      clearTimeout(giveUp);
      for (const c of this.conns) c.close();
    }
  }

  private abandonRunning(): number {
    let n = 0;
    const reason = new Error("the worker is shutting down; the job goes back to its queue");
    reason.name = "ShutdownError";
    for (const lane of this.lanes)
      for (const slot of lane.slots)
        if (slot.job) {
          slot.job.abandon(reason);
          slot.job = null;
          n++;
        }
    return n;
  }
}

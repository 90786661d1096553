// The main thread's side of the beat thread (beat-thread.ts, issue #14):
// 1. start the thread with its own Redis connection and what it needs to beat for this process;
// 2. write a tick into shared memory every few hundred ms: the thread beats in our place only while the tick
//    is late (the event loop is blocked), so a normal worker sends no extra command;
// 3. around each job's synchronous first call (job-guard.ts), with --job-timeout, write which slot's job runs
//    and since when, and which slots hold a running job, so the thread can end (and name) a job that never
//    yields;
// 4. say once which job blocked the loop and for how long: the job itself when its first call did it, or the
//    tick's lateness when a callback or a continuation of job code did (which one cannot be told there).
// With Sentinel the thread is told the primary's address: resolved through the sentinels at start, and again
// on every switch they announce (a failover while a job blocks the main thread is heard by the thread's watcher
// in the main thread only once it is free: until then the thread's beats go to the old primary and fail).
import type { WorkerContext } from "./context";
import { beatThread, SHARED_JOB_SINCE, SHARED_JOB_SLOT, SHARED_RUNNING, SHARED_TICK, type BeatThreadInit } from "./beat-thread";
import { scripts } from "./scripts";
import { primaryUrl, resolvePrimary, watchFailovers } from "./sentinel";
import type { HostPort } from "./uri";

/** A block of the event loop this long is worth a warning: every other slot and the fetch stood still. */
export const BLOCKED_LOG_MS = 1000;

export class Pulse {
  private readonly shared: Float64Array;
  private readonly slotOf: Map<string, number>;
  private readonly tickMs: number;
  private thread: Worker | null = null;
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastTick = 0;
  private unwatch: (() => void) | null = null;
  /** A job's first call was reported since the last tick: the tick's lateness is that same block. */
  private reported = false;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly ids: readonly string[],
    /** "<identity>|<valid ms>", as the heartbeat writes it. */
    private readonly identity: string,
  ) {
    this.slotOf = new Map(ids.map((id, i) => [id, i]));
    this.shared = new Float64Array(new SharedArrayBuffer((SHARED_RUNNING + ids.length) * 8));
    this.tickMs = Math.max(20, Math.min(250, ctx.config.heartbeatMs / 4));
  }

  /** Resolves once the thread has what it needs (with Sentinel: the primary's address, asked before the first job). */
  async start(): Promise<void> {
    const { config, proc } = this.ctx;
    const { keys, target } = config;
    this.lastTick = Date.now();
    this.shared[SHARED_TICK] = this.lastTick;
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref?.();
    const sentinel = target.sentinel;
    const init: BeatThreadInit = {
      // A sentinel target's primary comes in a later message; its credentials and db are in that URL.
      url: sentinel ? "" : target.url, tls: target.tls, username: sentinel ? "" : target.username, password: sentinel ? "" : target.password, db: sentinel ? 0 : target.db,
      connectTimeoutMs: config.commandTimeoutMs, shared: this.shared.buffer as SharedArrayBuffer,
      heartbeatMs: config.heartbeatMs, jobTimeoutMs: config.jobTimeoutMs, proc, ids: [...this.ids], identity: this.identity,
      beat: { source: scripts.beat.source, keys: [keys.beats, keys.heartbeats] },
      fail: { source: scripts.failRunning.source, failed: keys.failed, processed: keys.processed, failedCount: keys.failedCount,
        workerPrefix: keys.workerPrefix, processedPrefix: keys.processedPrefix, failedPrefix: keys.failedPrefix },
    };
    // From source text: a Blob URL needs no file beside the compiled binary (build.ts bundles one entry point).
    const url = URL.createObjectURL(new Blob([`(${beatThread.toString()})()`], { type: "application/javascript" }));
    this.thread = new Worker(url);
    this.thread.unref?.();
    this.thread.postMessage(init);
    if (!sentinel) return;
    const post = (addr: HostPort) => this.thread?.postMessage({ url: primaryUrl(sentinel, addr, target.db) });
    this.unwatch = watchFailovers(sentinel, post, false);
    // Before the first job: a job that blocks the loop at once would keep this message from ever being sent.
    await resolvePrimary(sentinel, config.commandTimeoutMs).then(post, () => {
      // The main thread's own connections report an unreachable primary; the thread waits for a switch.
    });
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.thread?.terminate();
    this.thread = null;
  }

  /**
   * A job's synchronous first call starts (only --job-timeout needs the thread to know): returns its slot, to be
   * handed to settled() when the job has finished, or -1 when nothing needs to be told.
   */
  enter(workerId: string): number {
    if (this.ctx.config.jobTimeoutMs <= 0) return -1;
    const slot = this.slotOf.get(workerId) ?? -1;
    const now = Date.now();
    this.shared[SHARED_JOB_SLOT] = slot;
    this.shared[SHARED_JOB_SINCE] = now;
    if (slot >= 0) this.shared[SHARED_RUNNING + slot] = now;
    return slot;
  }

  /** The job in `slot` finished (or was abandoned). */
  settled(slot: number): void {
    this.shared[SHARED_RUNNING + slot] = 0;
  }

  /** It returned after `ms`: a long one is named once. */
  leave(ms: number, className: string, queue: string): void {
    this.shared[SHARED_JOB_SINCE] = 0;
    if (ms < BLOCKED_LOG_MS) return;
    this.reported = true;
    this.ctx.config.log.warn(`job ${className} from queue ${queue} blocked the event loop for ${(ms / 1000).toFixed(1)} s (synchronous code: every other slot waited; heartbeats went on from the beat thread)`);
  }

  private tick(): void {
    const now = Date.now();
    this.shared[SHARED_TICK] = now;
    const late = now - this.lastTick - this.tickMs;
    this.lastTick = now;
    if (late >= BLOCKED_LOG_MS && !this.reported) {
      this.ctx.config.log.warn(`the event loop was blocked for ${(late / 1000).toFixed(1)} s by job code after its first call (a callback, or synchronous code after an await); heartbeats went on from the beat thread`);
    }
    this.reported = false;
  }
}

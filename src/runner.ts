// Runs one fetched job in one slot and reports exactly one outcome (Oban's executor shape):
// 1. refuse a broken item (not UTF-8, not JSON, wrong shape) -> "bad": its failure entry keeps the raw item;
// 2. resolve the class through the registry -> UnknownJobError if absent (a Rails ActiveJob wrapper: the class
//    is its job_class, the args its arguments as JS values, activejob.ts; ActiveJobError if it cannot be run);
// 3. call the function with `this` = JobContext (through the middleware, if any: middleware.ts); a sync return
//    is done at once, a promise when it settles;
// 4. enforce --job-timeout: fail with JobTimeoutError, fire the AbortSignal, free the slot;
// 5. run the first call under the job guard (job-guard.ts, issue #14): process.exit/abort or a throw from the
//    job's timers fail this job (crash) instead of ending the worker, and a call that blocks the loop is named.
// A job abandoned at the shutdown deadline reports nothing: its in-flight record is handed back instead.
import type { ConsolaInstance } from "consola/core";
import { ACTIVE_JOB_WRAPPER, unwrapActiveJob, type ActiveJobInfo } from "./activejob";
import { JobTimeoutError, MalformedPayloadError, UnknownJobError } from "./errors";
import { failureFields, type FailureFields } from "./failure";
import type { JobObserver } from "./metrics";
import type { JobGuard } from "./job-guard";
import { decodePayload } from "./payload";
import { Context } from "./job-context";
import type { MiddlewareStack } from "./middleware";
import type { JobFunction, Registry } from "./registry";
import type { Retrier, RetryRun } from "./retrier";
import type { RetryAck } from "./scripts";

/** `thrown`: the value the job threw (retry policies match it). done/retry/giveup: a retried class (retrier.ts). */
export type Finished =
  | { outcome: "ok" }
  | { outcome: "fail" | "bad"; failure: FailureFields; thrown?: unknown }
  | { outcome: "done"; retry: RetryAck }
  | { outcome: "retry" | "giveup"; failure: FailureFields; queue: string; raw: string; retry: RetryAck };

/** The outcome as Resque counts it. */
export function plainOutcome(o: Finished["outcome"]): "ok" | "fail" | "bad" {
  return o === "done" ? "ok" : o === "retry" || o === "giveup" ? "fail" : o;
}

export interface RunnerDeps {
  registry: Registry;
  useNumber: boolean;
  /** 0 = no limit. */
  jobTimeoutMs: number;
  log: ConsolaInstance;
  /** use()d middleware; none (or empty) = the job is called directly. */
  middleware?: MiddlewareStack;
  /** Metrics (--metrics-port): told each job's outcome, once; absent, nothing is measured. */
  observer?: JobObserver | null;
  /** Attributes what job code does to the process (exit, abort, uncaught throws) to its job, and times its first call. */
  guard?: JobGuard;
  /** Reads retried classes' attempt counters (issue #17); absent, retry policies are not applied. */
  retrier?: Retrier;
}

const OK: Finished = { outcome: "ok" };

/** A job in progress; `abandon` is for the shutdown deadline. */
export class RunningJob {
  private settled = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  context: Context | undefined;
  readonly startedAt = performance.now();
  /** The job's class, once known. */
  name = "?";
  /** Told once when the job settles or is abandoned (job-guard.ts, with --job-timeout). */
  onSettle: (() => void) | undefined;
  /** Fails the job from outside its promise (job-guard.ts); set once the job is called. */
  private onCrash: ((e: Error) => void) | undefined;

  constructor(private readonly done: (f: Finished) => void) {}

  crash(e: Error): void {
    if (!this.settled) this.onCrash?.(e);
  }

  setCrash(f: (e: Error) => void): void {
    this.onCrash = f;
  }

  get isSettled(): boolean {
    return this.settled;
  }

  finish(f: Finished): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.onSettle?.();
    this.done(f);
  }

  expireAfter(ms: number, onExpire: () => void): void {
    this.timer = setTimeout(onExpire, ms);
  }

  abandon(reason: Error): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.onSettle?.();
    this.context?.abort(reason);
  }
}

/** What a lane hands a job to: one fetched item in, one outcome out through `done`. */
export class Runner {
  private readonly debug: boolean;
  private readonly middleware: MiddlewareStack | null;

  constructor(private readonly deps: RunnerDeps) {
    this.debug = deps.log.level >= 4;
    this.middleware = deps.middleware && deps.middleware.size > 0 ? deps.middleware : null;
  }

  run(workerId: string, queue: string, notUtf8: boolean, raw: string, done: (f: Finished) => void): RunningJob {
    const observer = this.deps.observer;
    let className = "(unreadable)";
    const running: RunningJob = observer
      ? new RunningJob((f) => {
          observer.finished(className, queue, plainOutcome(f.outcome), performance.now() - running.startedAt);
          done(f);
        })
      : new RunningJob(done);
    if (observer) observer.inFlight++;
    let job;
    try {
      if (notUtf8) throw new MalformedPayloadError("payload is not valid UTF-8");
      job = decodePayload(raw, this.deps.useNumber);
    } catch (e) {
      running.finish(this.failed("bad", e, queue, "(unreadable)"));
      return running;
    }
    className = job.className;
    let args = job.args;
    let activeJob: ActiveJobInfo | undefined;
    // A Rails job: run the job registered under its job_class. A failure is "fail", not "bad", so the failure
    // entry keeps the wrapper's bytes and Resque's Retry pushes the same wrapper back.
    if (className === ACTIVE_JOB_WRAPPER) {
      try {
        ({ className, args, activeJob } = unwrapActiveJob(job));
      } catch (e) {
        running.finish(this.failed("fail", e, queue, className));
        return running;
      }
    }
    const fn = this.deps.registry.get(className);
    if (!fn) {
      running.finish(this.failed("fail", new UnknownJobError(`no job registered for class "${className}" (queue "${queue}")`), queue, className));
      return running;
    }
    const ctx = new Context(job, queue, workerId, raw, this.deps.log);
    if (activeJob) ctx.activeJob = activeJob;
    running.context = ctx;
    const policy = this.deps.retrier && this.deps.registry.retryPolicy(className);
    if (policy && this.deps.retrier) {
      // The attempt counter is read first (one GET); a job abandoned meanwhile (shutdown) is not started.
      void this.deps.retrier.begin(policy, job.className, raw, queue, workerId).then((r) => {
        if (running.isSettled) return;
        if (r) ctx.attempt = r.attempt + 1;
        this.call(running, ctx, className, fn, [queue, ...args], r ?? undefined);
      });
      return running;
    }
    this.call(running, ctx, className, fn, [queue, ...args]);
    return running;
  }

  private call(running: RunningJob, ctx: Context, className: string, fn: JobFunction, args: unknown[], retry?: RetryRun): void {
    const report = (f: Finished) => {
      if (this.debug) this.deps.log.debug(`job ${className} from queue ${ctx.queue} ${f.outcome === "ok" ? "done" : "failed"} in ${(performance.now() - running.startedAt).toFixed(2)} ms`);
      running.finish(retry ? retry.outcome(f) : f);
    };
    running.name = className;
    let result: unknown;
    const guard = this.deps.guard;
    try {
      const mw = this.middleware;
      const invoke = mw ? () => mw.run(ctx, fn, args) : () => fn.apply(ctx, args as [string, ...unknown[]]);
      if (guard) {
        running.setCrash((e) => report(this.failed("fail", e, ctx.queue, className)));
        result = guard.call(running, ctx.workerId, ctx.queue, invoke);
      } else {
        result = invoke();
      }
    } catch (e) {
      // Settled already: the guard failed it (process.exit), and this is the error thrown in place of the exit.
      if (running.isSettled) return;
      return report(this.failed("fail", e, ctx.queue, className));
    }
    if (!result || typeof (result as { then?: unknown }).then !== "function") return report(OK);
    const { jobTimeoutMs } = this.deps;
    if (jobTimeoutMs > 0) {
      running.expireAfter(jobTimeoutMs, () => {
        const err = new JobTimeoutError(`job ${className} ran longer than --job-timeout ${jobTimeoutMs / 1000} s`);
        ctx.abort(err);
        report(this.failed("fail", err, ctx.queue, className));
      });
    }
    (result as PromiseLike<unknown>).then(
      () => report(OK),
      (e: unknown) => running.isSettled || report(this.failed("fail", e, ctx.queue, className)),
    );
  }

  private failed(outcome: "fail" | "bad", thrown: unknown, queue: string, className: string): Finished {
    const failure = failureFields(thrown);
    this.deps.log.warn(`job ${className} from queue ${queue} failed: ${failure.exception}: ${failure.error}`);
    return { outcome, failure, thrown };
  }
}

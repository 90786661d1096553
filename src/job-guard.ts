// Job code that would end the worker (issue #14): process.exit(), process.abort(), or a throw from a place the
// runner cannot catch (a timer, an event callback). Each job's first call runs inside an AsyncLocalStorage
// context that its timers, promises and callbacks inherit, so whatever they do is attributed to the job:
// 1. process.exit / process.abort called in a job's context throw instead (the job's code stops there), and the
//    job fails with ProcessExitError / ProcessAbortError naming the call; the other slots' jobs go on. A job that
//    always exits is a failure record, not a crash loop. Outside any job (the worker's own exit) they exit.
// 2. an uncaught exception in a job's context fails that job with the thrown error, its message saying where it
//    came from; outside any job it is logged, as before (signals.ts).
// 3. the first call is timed (pulse.ts), so the job that blocks the event loop is named once.
import { AsyncLocalStorage } from "node:async_hooks";
import type { ConsolaInstance } from "consola/core";
import type { Pulse } from "./pulse";

/** A job as the guard sees it (runner.ts RunningJob). */
export interface Guarded {
  readonly isSettled: boolean;
  readonly name: string;
  /** Fail the job now with `e` (once; nothing if it already settled). */
  crash(e: Error): void;
  /** Called once when the job settles or is abandoned. */
  onSettle: (() => void) | undefined;
}

export class ProcessExitError extends Error {
  override name = "ProcessExitError";
}

export class ProcessAbortError extends Error {
  override name = "ProcessAbortError";
}

export class JobGuard {
  private readonly als = new AsyncLocalStorage<Guarded>();

  constructor(
    private readonly log: ConsolaInstance,
    private readonly pulse?: Pulse,
  ) {}

  /** Runs a job's first call in its context; resolves the call's value. */
  call<T>(job: Guarded, workerId: string, queue: string, f: () => T): T {
    const pulse = this.pulse;
    const slot = pulse ? pulse.enter(workerId) : -1;
    if (slot >= 0) job.onSettle = () => pulse?.settled(slot);
    const t0 = performance.now();
    try {
      return this.als.run(job, f);
    } finally {
      this.pulse?.leave(performance.now() - t0, job.name, queue);
    }
  }

  /** Replaces process.exit and process.abort while the worker runs; returns what puts them back. */
  install(): () => void {
    const exit = process.exit;
    const abort = process.abort;
    const guardedExit = (code?: number | string | null) => {
      const job = this.als.getStore();
      if (!job) return exit(code);
      const e = new ProcessExitError(`the job called process.exit(${code ?? ""}); the worker ignored it and failed the job`);
      Error.captureStackTrace(e, guardedExit); // the backtrace starts in the job
      throw this.stopped(job, e);
    };
    const guardedAbort = () => {
      const job = this.als.getStore();
      if (!job) return abort();
      const e = new ProcessAbortError("the job called process.abort(); the worker ignored it and failed the job");
      Error.captureStackTrace(e, guardedAbort);
      throw this.stopped(job, e);
    };
    process.exit = guardedExit as typeof process.exit;
    process.abort = guardedAbort as typeof process.abort;
    return () => {
      process.exit = exit;
      process.abort = abort;
    };
  }

  /** An uncaught exception: true when it came from a job (which then fails with it). */
  uncaught(e: unknown): boolean {
    const job = this.als.getStore();
    if (!job) return false;
    // The error thrown in place of exit/abort, escaping from a timer: already dealt with.
    if (e instanceof ProcessExitError || e instanceof ProcessAbortError) return true;
    const err = e instanceof Error ? e : new Error(String(e));
    if (e instanceof Error) err.message = `${err.message} (thrown outside the job's own call, from a timer or callback it started)`;
    this.stopped(job, err);
    return true;
  }

  private stopped(job: Guarded, e: Error): Error {
    // Outside the job's context: what the failure sets off (the lane's next call, its callbacks) is worker code.
    if (!job.isSettled) this.als.exit(() => job.crash(e));
    else this.log.error(`job ${job.name}, already finished, left a callback that did this: ${e.name}: ${e.message}; ignored`);
    return e;
  }
}

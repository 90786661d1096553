// What a job, its hooks and every middleware see of the job in progress: one object per job, created by the
// runner. Whatever costs an allocation (the AbortController, the per-job logger) is made on first use: most
// jobs never look, and a drain runs ~100k jobs a second.
import type { ConsolaInstance } from "consola/core";
import type { ActiveJobInfo } from "./activejob";
import type { Job } from "./payload";

/** A logger that tags every line with the job's class, queue and worker id (fields of --log-format=json). */
export interface JobLogger {
  error(message: string, ...rest: unknown[]): void;
  warn(message: string, ...rest: unknown[]): void;
  info(message: string, ...rest: unknown[]): void;
  debug(message: string, ...rest: unknown[]): void;
}

/** `this` inside a register()ed function, the first argument of a defineJob() function, a hook's and a middleware's ctx. */
export interface JobContext {
  /** The payload's class (for an ActiveJob payload, the wrapper's class). */
  readonly className: string;
  /** The queue the job came from (also the first argument of a register()ed function). */
  readonly queue: string;
  /** The job's args as decoded from the payload. */
  readonly args: readonly unknown[];
  /** The decoded payload, extra keys included. */
  readonly payload: Readonly<Record<string, unknown>>;
  /** The payload's bytes as they came from Redis. */
  readonly raw: string;
  /** The Resque worker id of the slot running the job. */
  readonly workerId: string;
  /** 1 for a job's first run, 2 for its first retry, ... (classes with a retry policy: resque-retry's counter + 2). */
  readonly attempt: number;
  /** Fires when the job passes --job-timeout, or at the shutdown deadline; the job is then failed or handed back. */
  readonly signal: AbortSignal;
  /** Logs with the job's class, queue and worker id attached. */
  readonly log: JobLogger;
  /** Set for a Rails ActiveJob payload. */
  readonly activeJob?: ActiveJobInfo;
}

// Only what every job needs is stored at construction (five fields); the rest is read through the decoded job
// or set on first use, so a context costs what it did before it carried all this (issue #16: no cost for
// features a job does not use).
export class Context implements JobContext {
  declare private controller: AbortController | undefined;
  declare private logger: JobLogger | undefined;
  /** 1 unless the runner sets it for a retried class (the prototype's value: no per-job store). */
  declare attempt: number;
  declare activeJob?: ActiveJobInfo;

  constructor(
    private readonly job: Job,
    readonly queue: string,
    readonly workerId: string,
    readonly raw: string,
    private readonly base: ConsolaInstance,
  ) {}

  get className(): string {
    return this.job.className;
  }

  get args(): readonly unknown[] {
    return this.job.args;
  }

  get payload(): Readonly<Record<string, unknown>> {
    return this.job.payload;
  }

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  get log(): JobLogger {
    if (this.logger) return this.logger;
    const fields = { job: this.className, queue: this.queue, worker: this.workerId };
    const base = this.base;
    this.logger = {
      error: (m, ...rest) => base.error(m, ...rest, fields),
      warn: (m, ...rest) => base.warn(m, ...rest, fields),
      info: (m, ...rest) => base.info(m, ...rest, fields),
      debug: (m, ...rest) => base.debug(m, ...rest, fields),
    };
    return this.logger;
  }

  abort(reason: Error): void {
    this.controller?.abort(reason);
  }
}
(Context.prototype as { attempt: number }).attempt = 1;

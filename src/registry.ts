// Class name -> TypeScript function. A payload's class resolves only through this map: nothing is ever
// loaded or called by name (issue #4, security). defineJob() registers here too (typed-job.ts), so any
// adapter that maps a payload to a job (Rails' JobWrapper) looks it up in this one place.
import { DuplicateJobError } from "./errors";
import type { JobContext } from "./job-context";
import { MALFORMED_CLASS, retriedMalformed } from "./malformed";
import { checkPolicy, type RetryPolicy } from "./retry-policy";

export type { JobContext } from "./job-context";

/** goworker's `func(queue string, args ...interface{}) error`: a throw or a rejection is a failure. */
export type JobFunction<A extends unknown[] = unknown[]> = (this: JobContext, queue: string, ...args: A) => unknown;

/** Per-class options given at registration. */
export interface RegisterOptions {
  /** Retry failed runs, with resque-retry's semantics (issue #17). Default: none, as in Resque. */
  retry?: RetryPolicy;
}

export class Registry {
  private readonly fns = new Map<string, JobFunction>();
  private readonly policies = new Map<string, RetryPolicy>();

  register<A extends unknown[]>(className: string, fn: JobFunction<A>, options?: RegisterOptions): void {
    if (typeof className !== "string" || className === "") throw new TypeError("register: class name must be a non-empty string");
    if (typeof fn !== "function") throw new TypeError(`register: the job for "${className}" must be a function`);
    if (this.fns.has(className)) throw new DuplicateJobError(`job class "${className}" is registered twice`);
    if (options?.retry) checkPolicy(className, options.retry);
    this.fns.set(className, fn as JobFunction);
    if (options?.retry) this.policies.set(className, options.retry);
  }

  /** A registered class, else a built-in one (a retried malformed item, malformed.ts). */
  get(className: string): JobFunction | undefined {
    return this.fns.get(className) ?? (className === MALFORMED_CLASS ? retriedMalformed : undefined);
  }

  /** The class's retry policy, if it was registered with one. */
  retryPolicy(className: string): RetryPolicy | undefined {
    return this.policies.get(className);
  }

  classes(): string[] {
    return [...this.fns.keys()].sort();
  }
}

// Typed jobs: defineJob(name, { queue, ...hooks }, async (ctx, ...args) => ...) registers the job and returns
// a handle whose enqueue() takes exactly the function's arguments (checked by tsc). The handle is a class so
// that later features (enqueueAt/enqueueIn) add methods to it rather than a second kind of handle.
import { SettingsError } from "./errors";
import { hasHooks, withHooks, type JobHooks } from "./hooks";
import type { JobContext } from "./job-context";
import type { JobFunction, Registry } from "./registry";

/** How a handle writes jobs: the program's enqueue machinery (index.ts), with Resque's bytes. */
export interface JobWriter {
  enqueueMany(queue: string, payloads: readonly { class: string; args: unknown[] }[]): Promise<number>;
}

export interface JobOptions<A extends unknown[]> extends JobHooks<A> {
  /** The queue enqueue() writes to. */
  queue: string;
}

export type TypedJobFunction<A extends unknown[]> = (ctx: JobContext, ...args: A) => unknown;

export class JobHandle<A extends unknown[]> {
  constructor(
    readonly className: string,
    readonly queue: string,
    private readonly writer: JobWriter,
  ) {}

  /** The payload Resque.enqueue would write for these args: {"class","args"}. */
  payload(...args: A): { class: string; args: unknown[] } {
    return { class: this.className, args };
  }

  /** Enqueue one job on the handle's queue (SADD queues + RPUSH, as Resque.enqueue). */
  async enqueue(...args: A): Promise<void> {
    await this.writer.enqueueMany(this.queue, [this.payload(...args)]);
  }

  /** Enqueue one job on another queue (Resque.enqueue_to). */
  async enqueueTo(queue: string, ...args: A): Promise<void> {
    await this.writer.enqueueMany(queue, [this.payload(...args)]);
  }

  /** Enqueue one job per argument list, one round trip per chunk; resolves to the number of jobs written. */
  enqueueMany(argLists: readonly A[]): Promise<number> {
    return this.writer.enqueueMany(this.queue, argLists.map((args) => this.payload(...args)));
  }
}

export function defineJob<A extends unknown[]>(registry: Registry, writer: JobWriter, className: string, options: JobOptions<A>, fn: TypedJobFunction<A>): JobHandle<A> {
  if (typeof options?.queue !== "string" || options.queue === "") throw new SettingsError(`defineJob("${className}"): options.queue must be a non-empty string`);
  if (typeof fn !== "function") throw new TypeError(`defineJob("${className}"): the job must be a function (ctx, ...args) => ...`);
  const run = hasHooks(options) ? withHooks(options, fn) : fn;
  // Stored as a register()-style function, so the runner has one way to call any job.
  const job = function (this: JobContext, _queue: string, ...args: A) {
    return run(this, ...args);
  };
  registry.register(className, job as JobFunction<A>);
  return new JobHandle<A>(className, options.queue, writer);
}

// Typed jobs: defineJob(name, { queue }, async (ctx, ...args) => ...) registers the job and returns a handle
// whose enqueue() takes exactly the function's arguments (checked by tsc). Hooks are added on the handle
// (Job.before(fn) ...), typed by the same arguments: in the options object, TypeScript would have to type them
// before it has read the job function's parameters. The handle is a class, so delayed
// enqueues (enqueueAt/enqueueIn, issue #17) are methods on it rather than a second kind of handle.
import { SettingsError } from "./errors";
import { checkHook, HookLists, withHooks, type AfterHook, type AroundHook, type BeforeHook, type FailureHook } from "./hooks";
import type { JobContext } from "./job-context";
import type { JobFunction, Registry } from "./registry";
import type { RetryPolicy } from "./retry-policy";

/** How a handle writes jobs: the program's enqueue machinery (index.ts), with Resque's and resque-scheduler's bytes. */
export interface JobWriter {
  enqueueMany(queue: string, payloads: readonly { class: string; args: unknown[] }[]): Promise<number>;
  enqueueAt(when: Date | number, job: { queue: string; payload: { class: string; args: unknown[] } }): Promise<"queued" | "delayed">;
}

export interface JobOptions {
  /** The queue enqueue() writes to. */
  queue: string;
  /** Retry failed runs (resque-retry's semantics, issue #17); default none, as in Resque. */
  retry?: RetryPolicy;
}

export type TypedJobFunction<A extends unknown[]> = (ctx: JobContext, ...args: A) => unknown;

export class JobHandle<A extends unknown[]> {
  private readonly hooks = new HookLists<A>();
  /** What the worker calls: the job itself, or the job inside its hooks once it has any. */
  private perform: (ctx: JobContext, ...args: A) => unknown;

  constructor(
    readonly className: string,
    readonly queue: string,
    private readonly fn: TypedJobFunction<A>,
    private readonly writer: JobWriter,
  ) {
    this.perform = fn;
  }

  /** The function the registry holds: register()'s calling convention, so the runner calls every job one way. */
  registered(): JobFunction<A> {
    const handle = this;
    return function (this: JobContext, _queue: string, ...args: A) {
      return handle.perform(this, ...args);
    };
  }

  private added(): this {
    this.perform = withHooks(this.hooks, this.fn);
    return this;
  }

  /** Resque's before_perform: runs before the job; throw DontPerform to skip it (counted as processed). */
  before(hook: BeforeHook<A>): this {
    checkHook("before", hook);
    this.hooks.before.push(hook);
    return this.added();
  }

  /** Resque's around_perform: must call perform() to run the job; the first added is the outermost. */
  around(hook: AroundHook<A>): this {
    checkHook("around", hook);
    this.hooks.around.push(hook);
    return this.added();
  }

  /** Resque's after_perform: runs after a successful job; a throw here fails the job. */
  after(hook: AfterHook<A>): this {
    checkHook("after", hook);
    this.hooks.after.push(hook);
    return this.added();
  }

  /** Resque's on_failure: sees the error; its own throw is logged and never replaces the job's failure. */
  onFailure(hook: FailureHook<A>): this {
    checkHook("onFailure", hook);
    this.hooks.onFailure.push(hook);
    return this.added();
  }

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

  /**
   * Run the job at `when` (a Date or epoch ms, floored to the second) on the handle's queue, through
   * resque-scheduler's delayed keys (enqueueAt in index.ts): a time already due goes straight to the queue.
   */
  async enqueueAt(when: Date | number, ...args: A): Promise<"queued" | "delayed"> {
    return this.writer.enqueueAt(when, { queue: this.queue, payload: this.payload(...args) });
  }

  /** enqueueAt(now + seconds): Ruby's enqueue_in. */
  async enqueueIn(seconds: number, ...args: A): Promise<"queued" | "delayed"> {
    if (typeof seconds !== "number" || !Number.isFinite(seconds)) throw new SettingsError(`${this.className}.enqueueIn: seconds must be a finite number, got ${String(seconds)}`);
    return this.enqueueAt(Date.now() + seconds * 1000, ...args);
  }

  /** Enqueue one job per argument list, one round trip per chunk; resolves to the number of jobs written. */
  enqueueMany(argLists: readonly A[]): Promise<number> {
    return this.writer.enqueueMany(this.queue, argLists.map((args) => this.payload(...args)));
  }
}

export function defineJob<A extends unknown[]>(registry: Registry, writer: JobWriter, className: string, options: JobOptions, fn: TypedJobFunction<A>): JobHandle<A> {
  if (typeof options?.queue !== "string" || options.queue === "") throw new SettingsError(`defineJob("${className}"): options.queue must be a non-empty string`);
  if (typeof fn !== "function") throw new TypeError(`defineJob("${className}"): the job must be a function (ctx, ...args) => ...`);
  const handle = new JobHandle<A>(className, options.queue, fn, writer);
  registry.register(className, handle.registered(), options.retry ? { retry: options.retry } : undefined);
  return handle;
}

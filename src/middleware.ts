// Middleware around every job (Koa/Sidekiq shape): `use(async (ctx, next) => ...)`, the first use()d is the
// outermost. The chain is one promise (or, when every part returns synchronously, one value), so --job-timeout
// and the shutdown deadline bound it exactly as they bound a job: a middleware that never settles is failed at
// --job-timeout, or handed back at the shutdown deadline. The runner calls the job directly when no middleware
// is installed: this module is then never entered. With a synchronous job, next() allocates nothing.
import type { JobContext } from "./job-context";

/** Call `next()` to run the rest of the chain and the job; return without calling it to stop the job (counted as processed). */
export type Middleware = (ctx: JobContext, next: () => Promise<void>) => unknown;

const DONE: Promise<void> = Promise.resolve();
const noop = () => {};
const isThenable = (v: unknown): v is PromiseLike<unknown> => v !== null && typeof v === "object" && typeof (v as { then?: unknown }).then === "function";

export class MiddlewareStack {
  private readonly list: Middleware[] = [];

  get size(): number {
    return this.list.length;
  }

  use(mw: Middleware): void {
    if (typeof mw !== "function") throw new TypeError("use: middleware must be a function (ctx, next) => ...");
    this.list.push(mw);
  }

  /**
   * Runs the chain around the job `fn.apply(ctx, args)`: a value or a promise, as a job's own result, with the
   * outcome the middleware leaves. (The job and its args are passed down rather than wrapped in a closure per job.)
   */
  run(ctx: JobContext, fn: Job, args: unknown[]): unknown {
    return call(this.list, 0, ctx, fn, args);
  }
}

type Job = (this: JobContext, ...args: never[]) => unknown;

function call(list: readonly Middleware[], i: number, ctx: JobContext, fn: Job, args: unknown[]): unknown {
  const mw = list[i];
  if (mw === undefined) return fn.apply(ctx, args as never[]);
  let inner: Promise<void> | undefined;
  /** The rest of the chain is still running (only ever true for an asynchronous job). */
  let pending = false;
  const next = (): Promise<void> => {
    if (inner) return Promise.reject(new Error(`middleware #${i + 1} called next() more than once`));
    let r: unknown;
    try {
      r = call(list, i + 1, ctx, fn, args);
    } catch (e) {
      inner = Promise.reject(e);
      inner.catch(noop); // the middleware decides whether this failure counts; never an unhandled rejection
      return inner;
    }
    if (!isThenable(r)) return (inner = DONE);
    pending = true;
    inner = Promise.resolve(r).then(
      () => void (pending = false),
      (e: unknown) => {
        pending = false;
        throw e;
      },
    );
    inner.catch(noop);
    return inner;
  };
  const out = mw(ctx, next);
  // A middleware that called next() without awaiting it must not free the slot under a job still running:
  // the job is waited for, and its outcome counts, since the middleware never saw it.
  if (!isThenable(out)) return pending ? inner : out;
  if (inner === DONE) return out;
  return Promise.resolve(out).then(() => (pending ? inner : undefined));
}

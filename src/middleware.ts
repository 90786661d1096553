// Middleware around every job (Koa/Sidekiq shape): `use(async (ctx, next) => ...)`, the first use()d is the
// outermost. The chain is one promise, so --job-timeout and the shutdown deadline bound it exactly as they bound
// a job: a middleware that never settles is failed at --job-timeout, or handed back at the shutdown deadline.
// The runner calls the job directly when no middleware is installed: this module is then never entered.
import type { JobContext } from "./job-context";

/** Call `next()` to run the rest of the chain and the job; return without calling it to stop the job (counted as processed). */
export type Middleware = (ctx: JobContext, next: () => Promise<void>) => unknown;

export class MiddlewareStack {
  private readonly list: Middleware[] = [];

  get size(): number {
    return this.list.length;
  }

  use(mw: Middleware): void {
    if (typeof mw !== "function") throw new TypeError("use: middleware must be a function (ctx, next) => ...");
    this.list.push(mw);
  }

  /** Runs the chain around `job`; resolves or rejects with the job's outcome as the middleware leaves it. */
  run(ctx: JobContext, job: () => unknown): Promise<void> {
    return step(this.list, 0, ctx, job);
  }
}

async function step(list: readonly Middleware[], i: number, ctx: JobContext, job: () => unknown): Promise<void> {
  const mw = list[i];
  if (!mw) {
    await job();
    return;
  }
  let inner: Promise<void> | undefined;
  let innerSettled = false;
  const next = (): Promise<void> => {
    if (inner) return Promise.reject(new Error(`middleware #${i + 1} called next() more than once`));
    inner = step(list, i + 1, ctx, job);
    inner.then(() => (innerSettled = true), () => (innerSettled = true));
    return inner;
  };
  await mw(ctx, next);
  // A middleware that called next() without awaiting it must not free the slot under a job still running:
  // wait for the job, and let its failure count, since the middleware never saw it.
  if (inner && !innerSettled) await inner;
}

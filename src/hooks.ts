// Resque's job hooks (reference section 8, job.rb#perform) for jobs declared with defineJob(), added on the
// handle (Job.before(fn), .around, .after, .onFailure):
//   before* -> around* (nested, the first outermost; each must call perform()) -> the job -> after*;
//   any throw on the way -> onFailure*(error) -> the job fails with that same error.
// - A before hook that throws DontPerform skips the job: not a failure, counted as processed (as in Resque).
//   DontPerform thrown anywhere else is an ordinary failure, as in Resque.
// - An around hook that never calls perform() skips the job; the after hooks still run (Resque's order).
// - A throwing after hook fails the job (the job already ran; Resque does the same).
// - Every onFailure hook runs, in order; one that throws is logged and the original error is what the failure
//   entry records (Resque wraps it in a RuntimeError "Additional error ..."; keeping the original keeps the
//   failed list's exception class useful).
// Hooks of a kind run in the order they were added (Resque sorts its hook methods by name).
import type { JobContext } from "./job-context";

/** Throw from a before hook to skip the job, as Resque::Job::DontPerform does. */
export class DontPerform extends Error {
  override name = "DontPerform";
}

export type BeforeHook<A extends unknown[]> = (ctx: JobContext, ...args: A) => unknown;
/** Call `perform()` to run the job (and the inner around hooks). */
export type AroundHook<A extends unknown[]> = (ctx: JobContext, perform: () => Promise<void>, ...args: A) => unknown;
export type AfterHook<A extends unknown[]> = (ctx: JobContext, ...args: A) => unknown;
export type FailureHook<A extends unknown[]> = (error: unknown, ctx: JobContext, ...args: A) => unknown;

/** The hooks of one job, in the order they were added. */
export class HookLists<A extends unknown[]> {
  readonly before: BeforeHook<A>[] = [];
  readonly around: AroundHook<A>[] = [];
  readonly after: AfterHook<A>[] = [];
  readonly onFailure: FailureHook<A>[] = [];

  get empty(): boolean {
    return this.before.length + this.around.length + this.after.length + this.onFailure.length === 0;
  }
}

export function checkHook(kind: string, fn: unknown): void {
  if (typeof fn !== "function") throw new TypeError(`${kind}: a hook must be a function`);
}

/** The job wrapped in its hooks: one promise from the first before hook to the last after (or onFailure) hook. */
export function withHooks<A extends unknown[]>(hooks: HookLists<A>, perform: (ctx: JobContext, ...args: A) => unknown): (ctx: JobContext, ...args: A) => Promise<void> {
  const { before, around, after, onFailure } = hooks;
  return async (ctx, ...args) => {
    try {
      try {
        for (const h of before) await h(ctx, ...args);
      } catch (e) {
        if (!(e instanceof DontPerform)) throw e;
        ctx.log.debug(`skipped by a before hook${e.message ? `: ${e.message}` : ""}`);
        return;
      }
      const nest = (i: number): Promise<void> => {
        const h = around[i];
        if (!h) return Promise.resolve(perform(ctx, ...args)).then(() => {});
        return Promise.resolve(h(ctx, () => nest(i + 1), ...args)).then(() => {});
      };
      await nest(0);
      for (const h of after) await h(ctx, ...args);
    } catch (e) {
      for (const h of onFailure) {
        try {
          await h(e, ctx, ...args);
        } catch (hookError) {
          const what = hookError instanceof Error ? `${hookError.name}: ${hookError.message}` : String(hookError);
          ctx.log.warn(`an onFailure hook threw (${what}); the job's own error is the one recorded`);
        }
      }
      throw e;
    }
  };
}

// Runs one fetched job in one slot and reports exactly one outcome (Oban's executor shape):
// 1. refuse a broken item (not UTF-8, not JSON, wrong shape) -> "bad": a failure entry keeps the raw item;
// 2. resolve the class through the registry -> UnknownJobError if absent;
// 3. call the function with `this` = JobContext; a sync return is done at once, a promise when it settles;
// 4. enforce --job-timeout: fail with JobTimeoutError, fire the AbortSignal, free the slot.
// A job abandoned at the shutdown deadline reports nothing: its in-flight record is handed back instead.
import type { ConsolaInstance } from "consola/core";
import { JobTimeoutError, MalformedPayloadError, UnknownJobError } from "./errors";
import { failureFields, failureTail } from "./failure";
import { decodePayload } from "./payload";
import type { JobContext, Registry } from "./registry";

export type Outcome = "ok" | "fail" | "bad";

export interface Finished {
  outcome: Outcome;
  /** The failure entry after its payload; "" for success. */
  tail: string;
}

export interface RunnerDeps {
  registry: Registry;
  useNumber: boolean;
  jobTimeoutMs: number;
  log: ConsolaInstance;
  debug: boolean;
}

const OK: Finished = { outcome: "ok", tail: "" };

class Context implements JobContext {
  private controller: AbortController | undefined;
  constructor(
    readonly queue: string,
    readonly workerId: string,
    readonly payload: Readonly<Record<string, unknown>>,
  ) {}

  // Created on first use: most jobs never look at it, and 100k AbortControllers a second are not free.
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  abort(reason: Error): void {
    this.controller?.abort(reason);
  }
}

/** A job in progress; `abandon` is for the shutdown deadline. */
export class RunningJob {
  private settled = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  context: Context | undefined;
  readonly startedAt = performance.now();

  constructor(private readonly done: (f: Finished) => void) {}

  get isSettled(): boolean {
    return this.settled;
  }

  finish(f: Finished): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.done(f);
  }

  expireAfter(ms: number, onExpire: () => void): void {
    this.timer = setTimeout(onExpire, ms);
  }

  abandon(reason: Error): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.context?.abort(reason);
  }
}

function failed(outcome: Outcome, thrown: unknown, workerId: string, queue: string, deps: RunnerDeps, className: string): Finished {
  const f = failureFields(thrown);
  deps.log.warn(`job ${className} from queue ${queue} failed: ${f.exception}: ${f.error}`);
  return { outcome, tail: failureTail(f, workerId, queue) };
}

export function runJob(deps: RunnerDeps, workerId: string, queue: string, flag: string, raw: string, done: (f: Finished) => void): RunningJob {
  const running = new RunningJob(done);
  let job;
  try {
    if (flag === "u") throw new MalformedPayloadError("payload is not valid UTF-8");
    job = decodePayload(raw, deps.useNumber);
  } catch (e) {
    running.finish(failed("bad", e, workerId, queue, deps, "(unreadable)"));
    return running;
  }
  const { className } = job;
  const fn = deps.registry.get(className);
  if (!fn) {
    running.finish(failed("fail", new UnknownJobError(`no job registered for class "${className}" (queue "${queue}")`), workerId, queue, deps, className));
    return running;
  }
  const ctx = new Context(queue, workerId, job.payload);
  running.context = ctx;
  const report = (f: Finished) => {
    if (deps.debug) deps.log.debug(`job ${className} from queue ${queue} ${f.outcome === "ok" ? "done" : "failed"} in ${(performance.now() - running.startedAt).toFixed(2)} ms`);
    running.finish(f);
  };
  let result: unknown;
  try {
    result = fn.apply(ctx, [queue, ...job.args]);
  } catch (e) {
    report(failed("fail", e, workerId, queue, deps, className));
    return running;
  }
  if (!result || typeof (result as { then?: unknown }).then !== "function") {
    report(OK);
    return running;
  }
  if (deps.jobTimeoutMs > 0) {
    running.expireAfter(deps.jobTimeoutMs, () => {
      const err = new JobTimeoutError(`job ${className} ran longer than --job-timeout ${deps.jobTimeoutMs / 1000} s`);
      ctx.abort(err);
      report(failed("fail", err, workerId, queue, deps, className));
    });
  }
  (result as PromiseLike<unknown>).then(
    () => report(OK),
    (e: unknown) => report(failed("fail", e, workerId, queue, deps, className)),
  );
  return running;
}

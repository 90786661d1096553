// Retries for classes registered with a retry policy (issue #17 point 4), with resque-retry's keys and
// semantics (reference section 5), so a class that runs under Ruby's Resque::Plugins::Retry and under bunworker
// in one fleet counts its attempts once:
// 1. before the job runs: GET its attempt counter, resque-retry:<Class>[:<sha1(args.join('-'))>] (retry-key.ts);
//    the attempt is the counter + 1 (Ruby's SETNX -1 + INCR: 0 for the first run), ctx.attempt that + 1;
// 2. when it settles, its outcome becomes an ack the lane-cycle script applies in one atomic step with the
//    rest of the ack (include-retry.lua): success "done" (DEL counter); a failure resque-retry would retry
//    "retry" (counter INCR, the delayed item in resque-scheduler's keys or the queue push for delay 0, the
//    intermediate failure in failure-<counter>); any other failure "giveup" (DEL both; the failure entry, with
//    the attempt count, goes to `failed`).
// Unlike Ruby, the counter moves when the attempt is acknowledged, not when it starts: an attempt cut short by
// a crash (its job is handed back by the reaper) is not counted, and nothing is ever counted twice.
import type { WorkerContext } from "./context";
import type { FailureFields } from "./failure";
import type { RedisConn } from "./redis";
import { compactJson, rawMembers } from "./raw-json";
import { retrying } from "./retry";
import { retryKey } from "./retry-key";
import { decide, type RetryPolicy } from "./retry-policy";
import type { Finished } from "./runner";
import type { RetryAck } from "./scripts";

/** resque-retry's failure-backend time format: failed_at without the zone (reference 5.3). */
function retryFailedAt(d: Date): string {
  const iso = d.toISOString();
  return `${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)} ${iso.slice(11, 19)}`;
}

const NO_WRITES = { mode: "", ts: "", item: "", queue: "", entry: "", ttl: 0, expire: null } as const;

/** One attempt of a retried class: its counter and attempt number, and how its outcome becomes an ack. */
export class RetryRun {
  constructor(
    private readonly ctx: WorkerContext,
    private readonly policy: RetryPolicy,
    /** resque-retry's attempt: 0 for the first run. */
    readonly attempt: number,
    private readonly counter: string,
    private readonly failureKey: string,
    private readonly job: { rawClass: string; rawArgs: string; raw: string; queue: string; workerId: string },
    private readonly random: () => number,
  ) {}

  outcome(f: Finished): Finished {
    const { counter, failureKey } = this;
    if (f.outcome === "ok") return { outcome: "done", retry: { counter, failureKey, ...NO_WRITES } };
    if (f.outcome !== "fail") return f;
    const d = decide(this.policy, this.attempt, f.failure.exception, f.thrown, this.random);
    const run = this.attempt + 1;
    if (!d.retry) {
      const why = d.why === "limit" ? "retry limit reached" : "not retried for this error";
      const failure: FailureFields = { ...f.failure, error: `${f.failure.error} (attempt ${run}, ${why})` };
      return { outcome: "giveup", failure, queue: this.job.queue, raw: this.job.raw, retry: { counter, failureKey, ...NO_WRITES } };
    }
    return { outcome: "retry", failure: f.failure, queue: this.job.queue, raw: this.job.raw, retry: this.retryAck(d.delaySeconds, f.failure) };
  }

  private retryAck(delay: number, failure: FailureFields): RetryAck {
    const now = this.ctx.config.clock.now();
    const nowS = Math.floor(now.getTime() / 1000);
    const ts = Math.floor((now.getTime() + delay * 1000) / 1000);
    const { rawClass, rawArgs, queue, raw, workerId } = this.job;
    const q = JSON.stringify(queue);
    // resque-retry's try_again: enqueue_to for a delay <= 0; enqueue_in_with_queue otherwise, which enqueues at
    // once too when the second is already due (a fractional delay).
    const now_ = delay <= 0 || ts <= nowS;
    const item = now_ ? `{"class":${rawClass},"args":${rawArgs}}` : `{"class":${rawClass},"args":${rawArgs},"queue":${q}}`;
    // The failure backend keeps an intermediate failure only for a delay > 0, for 2 x delay seconds.
    const entry = delay > 0
      ? `{"failed_at":"${retryFailedAt(now)}","payload":${compactJson(raw)},"exception":${JSON.stringify(failure.exception)},"error":${JSON.stringify(failure.error)},"backtrace":${JSON.stringify(failure.backtrace)},"worker":${JSON.stringify(workerId)},"queue":${q}}`
      : "";
    const after = this.policy.expireKeyAfter;
    return {
      counter: this.counter, failureKey: this.failureKey, mode: now_ ? "queue" : "delay", ts: String(ts), item, queue, entry,
      ttl: Math.max(1, Math.ceil(2 * delay)), expire: after === undefined ? null : Math.ceil(delay + after),
    };
  }
}

/** Starts attempts of retried classes (one per worker process; its connection reads the counters). */
export class Retrier {
  constructor(private readonly ctx: WorkerContext, private readonly conn: RedisConn, private readonly random: () => number = Math.random) {}

  /**
   * The attempt about to run, or null when the counter cannot be used (a key of another type or value: it is
   * reported, and the job runs without retries rather than stop the worker).
   */
  async begin(policy: RetryPolicy, className: string, raw: string, queue: string, workerId: string): Promise<RetryRun | null> {
    const { keys, log } = this.ctx.config;
    let key: string;
    let rawClass: string;
    let rawArgs: string;
    try {
      const members = rawMembers(raw);
      rawClass = members.find((m) => m.key === "class")?.raw ?? JSON.stringify(className);
      rawArgs = compactJson(members.find((m) => m.key === "args")?.raw ?? "[]");
      key = retryKey(className, rawArgs);
    } catch (e) {
      log.warn(`job ${className}: no retries for this run, its args cannot be read (${(e as Error).message})`);
      return null;
    }
    const counter = keys.retryCounter(key);
    let value: unknown;
    try {
      value = await retrying(() => this.conn.run((c) => c.send("GET", [counter]), "retry counter"), this.ctx.outage, this.ctx.hardStop);
    } catch (e) {
      if (!this.ctx.hardStop.aborted) log.warn(`job ${className}: no retries for this run, ${counter} cannot be read (${(e as Error).message})`);
      return null;
    }
    const text = value === null || value === undefined ? "-1" : String(value);
    if (!/^-?\d{1,17}$/.test(text)) {
      log.warn(`job ${className}: no retries for this run, ${counter} holds ${JSON.stringify(text.slice(0, 40))}, not an attempt counter: fix or delete it`);
      return null;
    }
    return new RetryRun(this.ctx, policy, Number(text) + 1, counter, keys.retryFailure(key), { rawClass, rawArgs, raw, queue, workerId }, this.random);
  }
}

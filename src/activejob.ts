// Rails ActiveJob on Resque (activejob-on-resque.md section 1; issue #16):
// 1. unwrapActiveJob: a JobWrapper payload -> the bunworker job registered under its `job_class`, its
//    arguments as plain JS values (activejob-args.ts) and the job's ActiveJob fields for the context;
// 2. activeJobPayload: the payload ActiveJob 6.1 would write for `Job.perform_later(...)`, for a Ruby worker.
// The wrapper's bytes are never rewritten: a failure keeps them, so Ruby's requeue pushes the same job back.
import { fromActiveJob, toActiveJob, type ActiveJobArgument } from "./activejob-args";
import { ActiveJobError } from "./errors";
import type { Job } from "./payload";
import { runAt } from "./resque-time";

export const ACTIVE_JOB_WRAPPER = "ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper";

/** The ActiveJob fields of a job that came through Rails' Resque adapter (`this.activeJob`). */
export interface ActiveJobInfo {
  /** The Ruby job class, also the name the job was registered under. */
  readonly jobClass: string;
  /** ActiveJob's uuid (`job.job_id` in Ruby). */
  readonly jobId: string;
  /** Ruby's `executions` inside perform: 1 on the first run, more after Ruby's `retry_on` re-enqueued it. */
  readonly executions: number;
  readonly locale: string | null;
  readonly timezone: string | null;
  readonly priority: number | null;
  /** When Rails enqueued it; null if the payload has no readable `enqueued_at`. */
  readonly enqueuedAt: Date | null;
}

const kind = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v);
const stringOrNull = (v: unknown) => (typeof v === "string" ? v : null);

function enqueuedAt(v: unknown): Date | null {
  if (typeof v !== "string") return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** The job inside an ActiveJob wrapper. Throws ActiveJobError naming what cannot be run. */
export function unwrapActiveJob(job: Job): { className: string; args: unknown[]; activeJob: ActiveJobInfo } {
  const data = job.args[0];
  if (job.args.length !== 1 || data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new ActiveJobError(`an ActiveJob wrapper takes one job hash as its argument, got ${job.args.length} argument(s), the first ${kind(data)}`);
  }
  const d = data as Record<string, unknown>;
  if (typeof d.job_class !== "string" || d.job_class === "") throw new ActiveJobError(`the ActiveJob hash has no "job_class" string (got ${kind(d.job_class)})`);
  const args = d.arguments ?? [];
  if (!Array.isArray(args)) throw new ActiveJobError(`the ActiveJob hash's "arguments" must be an array, got ${kind(args)}`);
  const executions = Number(d.executions ?? 0);
  const activeJob: ActiveJobInfo = {
    jobClass: d.job_class,
    jobId: typeof d.job_id === "string" ? d.job_id : "",
    executions: (Number.isFinite(executions) ? executions : 0) + 1, // ActiveJob counts the run before perform
    locale: stringOrNull(d.locale),
    timezone: stringOrNull(d.timezone),
    priority: typeof d.priority === "number" ? d.priority : null,
    enqueuedAt: enqueuedAt(d.enqueued_at),
  };
  return { className: d.job_class, args: fromActiveJob(args), activeJob };
}

/** How `enqueueActiveJob` writes the job; every field defaults to what ActiveJob writes when it is not set. */
export interface ActiveJobOptions {
  /** The queue (`queue_as` / `set(queue:)`); default "default", ActiveJob's. */
  queue?: string;
  /** Ruby keyword arguments (`perform(..., notify: true)`), written as ActiveJob's trailing keywords hash. */
  keywords?: Readonly<Record<string, ActiveJobArgument | undefined>>;
  /** `set(priority:)`; default null. Resque itself ignores it. */
  priority?: number | null;
  /** I18n locale the Ruby job runs under; default "en". */
  locale?: string;
  /** Time zone name the Ruby job runs under (e.g. "UTC"); default null: the Ruby app's own `Time.zone`. */
  timezone?: string | null;
  /** ActiveJob's job id; default a new uuid. */
  jobId?: string;
}

export interface ActiveJobPayload {
  queue: string;
  jobId: string;
  payload: { class: string; args: [Record<string, unknown>] };
}

/** The Resque payload `JobClass.set(queue:, priority:).perform_later(*args, **keywords)` writes in ActiveJob 6.1. */
export function activeJobPayload(jobClass: string, args: readonly ActiveJobArgument[], options: ActiveJobOptions = {}, now = new Date()): ActiveJobPayload {
  if (typeof jobClass !== "string" || jobClass === "") throw new ActiveJobError("enqueueActiveJob: the job class must be a non-empty string");
  if (!Array.isArray(args)) throw new ActiveJobError(`enqueueActiveJob: args must be an array, got ${kind(args)}`);
  const queue = options.queue ?? "default";
  if (typeof queue !== "string" || queue === "") throw new ActiveJobError("enqueueActiveJob: queue must be a non-empty string");
  const jobId = options.jobId ?? crypto.randomUUID();
  const data = {
    job_class: jobClass,
    job_id: jobId,
    provider_job_id: null,
    queue_name: queue,
    priority: options.priority ?? null,
    arguments: toActiveJob(args, options.keywords),
    executions: 0,
    exception_executions: {},
    locale: options.locale ?? "en",
    timezone: options.timezone ?? null,
    enqueued_at: runAt(now),
  };
  return { queue, jobId, payload: { class: ACTIVE_JOB_WRAPPER, args: [data] } };
}

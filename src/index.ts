/// <reference path="./ambient.d.ts" />
// The public API, named after goworker's: register, work, enqueue, setSettings, init, close, namespace,
// redis. One default worker per program, like goworker's package-level functions; main.ts and everything
// below it take their dependencies explicitly.
import type { RedisClient } from "bun";
import { activeJobPayload, type ActiveJobOptions } from "./activejob";
import type { ActiveJobArgument } from "./activejob-args";
import type { Config } from "./config";
import { SettingsError } from "./errors";
import { encodeJobs, pushEncoded, type JobPayload } from "./enqueue";
import { makeKeys } from "./keys";
import { Lifecycle, type LifecycleHook } from "./lifecycle";
import { MiddlewareStack, type Middleware } from "./middleware";
import { delayedCountWith, enqueueAtWith, enqueueInWith, removeDelayedWith, type DelayedJob } from "./delayed";
import { parseSchedule, type Schedule, type ScheduleConfig } from "./schedule";
import { runCommandLine, runWithSettings, type Program } from "./main";
import { openSharedClient } from "./redis";
import { Registry, type JobFunction, type RegisterOptions } from "./registry";
import { checkUriShape, defaultSettings, type Settings } from "./settings";
import { defineJob as define, JobHandle, type JobOptions, type JobWriter, type TypedJobFunction } from "./typed-job";
import { parseUri, type RedisTarget } from "./uri";
import { COMMIT, VERSION } from "./version";

export type { JobContext, JobFunction, RegisterOptions } from "./registry";
export type { RetryPolicy, ErrorRule } from "./retry-policy";
export type { JobLogger } from "./job-context";
export type { Middleware } from "./middleware";
export type { BeforeHook, AroundHook, AfterHook, FailureHook } from "./hooks";
export type { LifecycleHook, WorkerInfo } from "./lifecycle";
export type { JobOptions, TypedJobFunction } from "./typed-job";
export type { JobPayload } from "./enqueue";
export { DontPerform } from "./hooks";
export { OnStartError } from "./lifecycle";
export { JobHandle };
export type { Settings, LogFormat, LogLevel, DeadJobPolicy } from "./settings";
export { SettingsError, ConnectionError, MalformedPayloadError, UnknownJobError, JobTimeoutError, DuplicateJobError, RedisTimeoutError, ActiveJobError } from "./errors";
export { GlobalId, type ActiveJobArgument } from "./activejob-args";
export type { ActiveJobInfo, ActiveJobOptions } from "./activejob";
export type { DelayedJob } from "./delayed";
export type { ScheduleConfig } from "./schedule";
export { VERSION, COMMIT };

const registry = new Registry();
const middleware = new MiddlewareStack();
const lifecycle = new Lifecycle();
const argv = [...process.argv]; // copied before the procline overwrites the process's argv area
let overrides: Partial<Settings> = {};
/** The config of the worker this program runs (or last ran), once work() has resolved it: redis() and namespace() follow it. */
let running: Config | null = null;
let sharedClient: RedisClient | null = null;
const schedules: Schedule[] = [];

/**
 * Register the function that runs jobs of `className`. Registering a class twice throws DuplicateJobError.
 * `options.retry`: retry failed runs with resque-retry's keys and semantics (README "Retries").
 */
export function register<A extends unknown[]>(className: string, fn: JobFunction<A>, options?: RegisterOptions): void {
  registry.register(className, fn, options);
}

/**
 * Declare a typed job: registers `className` for the worker and returns a handle whose enqueue() takes exactly
 * the function's arguments after `ctx`. `options.queue` is where the handle enqueues. Resque's job hooks are
 * added on the handle: `.before(fn)`, `.around(fn)`, `.after(fn)`, `.onFailure(fn)` (hooks.ts).
 */
export function defineJob<A extends unknown[]>(className: string, options: JobOptions, fn: TypedJobFunction<A>): JobHandle<A> {
  return define(registry, writer, className, options, fn);
}

/** Set by work(): the worker has taken its middleware and lifecycle hooks; later ones would be ignored. */
let working = false;

function beforeWork(what: string): void {
  if (working) throw new SettingsError(`${what} must be called before work()`);
}

/** Wrap every job: `use(async (ctx, next) => { ...; await next(); ... })`. The first use()d is the outermost. Call before work(). */
export function use(mw: Middleware): void {
  beforeWork("use()");
  middleware.use(mw);
}

/** Run before the first fetch (after Redis answers); a throw stops start-up. Call before work(). */
export function onStart(fn: LifecycleHook): void {
  beforeWork("onStart()");
  lifecycle.onStart(fn);
}

/** Run after the last job finished or was handed back, within the shutdown deadline. Call before work(). */
export function onStop(fn: LifecycleHook): void {
  beforeWork("onStop()");
  lifecycle.onStop(fn);
}

/**
 * A recurring job in resque-scheduler's terms: `{ cron: "*\/5 * * * * Europe/Berlin" }` (5 fields, or 6 with
 * seconds first, optional time zone) or `{ every: "15m" }`, with class (default: the name), args and queue.
 * The process of the fleet that holds resque-scheduler's master lock enqueues each tick once. A bad config
 * throws SettingsError naming the schedule.
 */
export function schedule(name: string, config: ScheduleConfig): void {
  if (schedules.some((s) => s.name === name)) throw new SettingsError(`schedule ${JSON.stringify(name)} is defined twice`);
  schedules.push(parseSchedule(name, config));
}

/** The registered class names, sorted. */
export function registeredClasses(): string[] {
  return registry.classes();
}

/** Merge settings into the defaults used by init(), enqueue(), redis() and work(). */
export function setSettings(partial: Partial<Settings>): void {
  overrides = { ...overrides, ...partial };
}

function settings(): Settings {
  return { ...defaultSettings(), ...overrides };
}

/** The key prefix in use, e.g. "resque:": the running worker's, else the one setSettings() gave. */
export function namespace(): string {
  return running?.namespace ?? settings().namespace;
}

async function connectShared(target: RedisTarget, timeoutMs: number): Promise<void> {
  if (sharedClient) return;
  sharedClient = await openSharedClient(target, timeoutMs);
}

/** Connect the shared client used by enqueue() and redis(). Rejects on an unreachable Redis. */
export async function init(): Promise<void> {
  if (sharedClient) return;
  if (running) return connectShared(running.target, running.commandTimeoutMs);
  const s = settings();
  checkUriShape(s.uri);
  await connectShared(parseUri(s.uri, s), s.commandTimeout * 1000);
}

/** The shared Redis client, for job code that wants the same Redis (goworker's GetConn). Call init() first. */
export function redis(): RedisClient {
  if (!sharedClient) throw new Error("bunworker: call init() (or work()) before redis()");
  return sharedClient;
}

export interface EnqueueOptions {
  queue: string;
  payload: JobPayload;
}

/** What Resque.enqueue writes: SADD queues + RPUSH queue:<q> of {"class","args"} (extra keys kept). bigint args stay exact. */
export async function enqueue(job: EnqueueOptions): Promise<void> {
  await enqueueMany(job.queue, [job.payload]);
}

/**
 * Enqueue a job for a Ruby ActiveJob class, with the bytes `JobClass.perform_later(*args)` writes through Rails'
 * Resque adapter (ActiveJob 6.1). Resolves to ActiveJob's job id.
 */
export async function enqueueActiveJob(jobClass: string, args: readonly ActiveJobArgument[], options?: ActiveJobOptions): Promise<string> {
  const { queue, jobId, payload } = activeJobPayload(jobClass, args, options);
  await enqueue({ queue, payload });
  return jobId;
}

/**
 * Many jobs onto one queue with the bytes enqueue() writes: every payload checked first, the queue registered
 * once, one RPUSH (one round trip) per 5,000 jobs, pipelined. Resolves to the number of jobs written.
 */
export async function enqueueMany(queue: string, payloads: readonly JobPayload[]): Promise<number> {
  const raws = encodeJobs(queue, payloads); // refused before connecting
  await init();
  return pushEncoded(redis(), makeKeys(namespace()), queue, raws);
}


/**
 * A job to run at `when` (a Date or epoch milliseconds; floored to the second), in resque-scheduler's delayed
 * keys, so a Ruby scheduler or any bunworker promotes it. A time already due goes straight to its queue, as
 * Ruby's enqueue_at does. Resolves to which of the two happened.
 */
export async function enqueueAt(when: Date | number, job: DelayedJob): Promise<"queued" | "delayed"> {
  await init();
  return enqueueAtWith(redis(), makeKeys(namespace()), when, job);
}

/** enqueueAt(now + seconds): Ruby's enqueue_in. */
export async function enqueueIn(seconds: number, job: DelayedJob): Promise<"queued" | "delayed"> {
  await init();
  return enqueueInWith(redis(), makeKeys(namespace()), seconds, job);
}

/** Ruby's remove_delayed: removes every delayed copy of exactly this job; resolves to how many were removed. */
export async function removeDelayed(job: DelayedJob): Promise<number> {
  await init();
  return removeDelayedWith(redis(), makeKeys(namespace()), job);
}

const writer: JobWriter = { enqueueMany, enqueueAt };

/** How many delayed jobs wait, over every second (Ruby's count_all_scheduled_jobs). */
export async function delayedCount(): Promise<number> {
  await init();
  return delayedCountWith(redis(), makeKeys(namespace()));
}

/** Close the shared client. */
export async function close(): Promise<void> {
  sharedClient?.close();
  sharedClient = null;
}

function program(): Program {
  return {
    registry,
    extras: { middleware, lifecycle, schedules },
    base: overrides,
    argv,
    beforeJobs: (config) => {
      running = config;
      return connectShared(config.target, config.commandTimeoutMs);
    },
  };
}

/**
 * Run the worker until a signal (or, with exitOnComplete, until the queues are empty). Without `explicit`,
 * settings come from this program's command line and environment, so any file that registers jobs and calls
 * work() is a full worker CLI; bad flags then exit 2 with the usage line. Explicit bad settings reject.
 */
export function work(explicit?: Partial<Settings>): Promise<void> {
  working = true;
  return explicit ? runWithSettings(explicit, program()) : runCommandLine(program());
}

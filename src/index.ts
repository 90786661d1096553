// The public API, named after goworker's: register, work, enqueue, setSettings, init, close, namespace,
// redis. One default worker per program, like goworker's package-level functions; main.ts and everything
// below it take their dependencies explicitly.
import type { RedisClient } from "bun";
import type { Config } from "./config";
import { SettingsError } from "./errors";
import { delayedCountWith, enqueueAtWith, enqueueInWith, removeDelayedWith, type DelayedJob } from "./delayed";
import { makeKeys } from "./keys";
import { parseSchedule, type Schedule, type ScheduleConfig } from "./schedule";
import { runCommandLine, runWithSettings, type Program } from "./main";
import { openSharedClient } from "./redis";
import { Registry, type JobFunction } from "./registry";
import { checkUriShape, defaultSettings, type Settings } from "./settings";
import { parseUri, type RedisTarget } from "./uri";
import { COMMIT, VERSION } from "./version";

export type { JobContext, JobFunction } from "./registry";
export type { Settings, LogFormat, LogLevel, DeadJobPolicy } from "./settings";
export { SettingsError, ConnectionError, MalformedPayloadError, UnknownJobError, JobTimeoutError, DuplicateJobError, RedisTimeoutError } from "./errors";
export type { DelayedJob } from "./delayed";
export type { ScheduleConfig } from "./schedule";
export { VERSION, COMMIT };

const registry = new Registry();
const argv = [...process.argv]; // copied before the procline overwrites the process's argv area
let overrides: Partial<Settings> = {};
/** The config of the worker this program runs (or last ran), once work() has resolved it: redis() and namespace() follow it. */
let running: Config | null = null;
let sharedClient: RedisClient | null = null;
const schedules: Schedule[] = [];

/** Register the function that runs jobs of `className`. Registering a class twice throws DuplicateJobError. */
export function register<A extends unknown[]>(className: string, fn: JobFunction<A>): void {
  registry.register(className, fn);
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
  payload: { class: string; args?: unknown[]; [extra: string]: unknown };
}

/** What Resque.enqueue writes: SADD queues + RPUSH queue:<q> of {"class","args"} (extra keys kept). bigint args stay exact. */
export async function enqueue(job: EnqueueOptions): Promise<void> {
  if (!job.queue) throw new SettingsError("enqueue: queue is required");
  if (typeof job.payload?.class !== "string" || !job.payload.class) throw new SettingsError("enqueue: payload.class must be a non-empty string");
  await init();
  const keys = makeKeys(namespace());
  const { class: cls, args = [], ...extra } = job.payload;
  const raw = JSON.stringify({ class: cls, args, ...extra }, (_k, v: unknown) => (typeof v === "bigint" ? JSON.rawJSON(v.toString()) : v));
  const c = redis();
  await Promise.all([c.sadd(keys.queues, job.queue), c.rpush(keys.queue(job.queue), raw)]);
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
    schedules,
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
  return explicit ? runWithSettings(explicit, program()) : runCommandLine(program());
}

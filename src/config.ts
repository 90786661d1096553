// Settings resolved once into what the running worker uses (Sidekiq's config, River's mustValidate):
// 1. validate every setting and parse the queue list and the Redis URI, once;
// 2. turn every duration into milliseconds, so no component converts units;
// 3. carry the logger and the clock, injected so tests can replace them.
// Everything below main.ts takes a Config; nothing reads Settings or the environment again.
import { availableParallelism } from "node:os";
import type { ConsolaInstance } from "consola/core";
import { makeKeys, type Keys } from "./keys";
import { createLogger } from "./logger";
import type { NotifyMode } from "./notifier";
import { isDynamic, type QueueSpec } from "./queues";
import { validate, type DeadJobPolicy, type Settings } from "./settings";
import { parseUri, type RedisTarget } from "./uri";
import { parseScheduleYaml, readScheduleFile, type Schedule } from "./schedule";

/** Wall-clock time for the timestamps Resque shows (run_at, failed_at, started, heartbeats). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export interface Config {
  readonly queues: readonly QueueSpec[];
  /** `*`, globs or `!skip`: the queue list follows `<ns>queues`. */
  readonly dynamicQueues: boolean;
  readonly concurrency: number;
  readonly connections: number;
  readonly processes: number;
  readonly namespace: string;
  readonly keys: Keys;
  readonly target: RedisTarget;
  readonly insecureTls: boolean;
  readonly exitOnComplete: boolean;
  readonly useNumber: boolean;
  readonly deadJobs: DeadJobPolicy;
  /** How many of the highest-priority queues get a blocking wait (a connection each) for sub-ms pickup. */
  readonly blockingQueues: number;
  readonly followQueues: number;
  /** --min-replicas: WAIT for this many replicas before a fetched job starts (0: off). */
  readonly minReplicas: number;
  /** Keyspace notifications for pickup on every queue: use when the server has them, turn them on, or not. */
  readonly notifications: NotifyMode;
  /** Recurring schedules from --schedule (fired by the promoter while it holds the lock). */
  readonly schedules: readonly Schedule[];
  /** Run a promoter for delayed jobs (promoter.ts). */
  readonly promote: boolean;
  readonly intervalMs: number;
  readonly shutdownTimeoutMs: number;
  /** 0 = no limit. */
  readonly jobTimeoutMs: number;
  readonly heartbeatMs: number;
  readonly deadAfterMs: number;
  readonly commandTimeoutMs: number;
  readonly log: ConsolaInstance;
  readonly clock: Clock;
}

export interface ConfigDeps {
  log?: ConsolaInstance;
  clock?: Clock;
}

const ms = (seconds: number) => Math.round(seconds * 1000);

/** Throws SettingsError naming the first bad setting. */
export function resolveConfig(s: Settings, deps: ConfigDeps = {}): Config {
  const queues = validate(s);
  const target = parseUri(s.uri, s);
  return {
    queues,
    dynamicQueues: isDynamic(queues),
    concurrency: s.concurrency,
    connections: Math.min(s.connections, s.concurrency),
    processes: s.processes === "auto" ? availableParallelism() : s.processes,
    namespace: s.namespace,
    keys: makeKeys(s.namespace),
    target,
    insecureTls: s.insecureTls,
    exitOnComplete: s.exitOnComplete,
    useNumber: s.useNumber,
    deadJobs: s.deadJobs,
    blockingQueues: s.blockingQueues,
    followQueues: s.followQueues,
    minReplicas: s.minReplicas,
    notifications: s.keyspaceNotifications,
    promote: s.promote,
    schedules: s.scheduleFile ? parseScheduleYaml(readScheduleFile(s.scheduleFile), s.scheduleFile) : [],
    intervalMs: ms(s.interval),
    shutdownTimeoutMs: ms(s.shutdownTimeout),
    jobTimeoutMs: ms(s.jobTimeout),
    heartbeatMs: ms(s.heartbeatInterval),
    deadAfterMs: ms(s.deadAfter),
    commandTimeoutMs: ms(s.commandTimeout),
    log: deps.log ?? createLogger(s.logLevel, s.logFormat),
    clock: deps.clock ?? systemClock,
  };
}

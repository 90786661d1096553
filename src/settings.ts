// One settings object with named defaults and one validate(). Defaults are goworker's where goworker has
// the setting (flags.go), Resque's where only Resque has it, and ours (documented) for the rest.
import { SettingsError } from "./errors";
import { parseQueues, type QueueSpec } from "./queues";

export type LogFormat = "pretty" | "json";
export type LogLevel = "silent" | "error" | "warn" | "info" | "debug" | "trace";
export type DeadJobPolicy = "requeue" | "fail";

export interface Settings {
  /** Queues to serve, in priority order: `high,low`, weighted `high=2,low=1`, or patterns `*`, `mail_*`, `!skip`. Required. */
  queues: string[];
  /**
   * goworker's poll interval, in seconds. bunworker does not poll: an idle worker waits on Redis and wakes at
   * once. This bounds idle traffic instead: the blocking waits of all queues together renew once per interval.
   * Default 5.
   */
  interval: number;
  /** Jobs run at once; each slot is one Resque worker. Default 25. */
  concurrency: number;
  /** Redis connections for commands; also the number of fetch lanes whose round trips overlap. Default 2. */
  connections: number;
  /** Redis URI: redis://, rediss://, unix:///path. Default $REDIS_URL, the variable $REDIS_PROVIDER names, or redis://localhost:6379/. */
  uri: string;
  /** Key prefix, colon included, as goworker's -namespace. Default `resque:`. */
  namespace: string;
  /** Exit once every queue is empty and no job is running. Default false. */
  exitOnComplete: boolean;
  /** Integers outside the safe range reach handlers as exact bigint values. Default false. */
  useNumber: boolean;
  /** Skip TLS certificate verification (logged as a warning). Default false. */
  insecureTls: boolean;
  /** PEM file of the CA that signed the server's certificate. Default none (system roots). */
  tlsCert: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Seconds running jobs get after the first TERM/INT/QUIT before they are handed back. Default 8 (Heroku KILLs at 10). */
  shutdownTimeout: number;
  /** Seconds a job may run before it fails with JobTimeoutError; 0 = no limit (Resque's behaviour). Default 0. */
  jobTimeout: number;
  /** Worker processes under one supervisor; "auto" = one per core. Default 1. */
  processes: number | "auto";
  /** What happens to a dead worker's in-flight jobs: back to the front of their queues, or failure entries. Default requeue. */
  deadJobs: DeadJobPolicy;
  /**
   * Seconds between heartbeats (Resque's are 60); each also finds dead workers. Default 20 (an idle worker's
   * traffic stays under one command a second). At most 150: Ruby's prune would reap slots beating less often.
   */
  heartbeatInterval: number;
  /** A worker on another host whose heartbeat is older than this many seconds is dead. Default 60. */
  deadAfter: number;
  /** Seconds a Redis command may take before the connection is treated as stalled. Default 10. */
  commandTimeout: number;
  /**
   * How many of the highest-priority queues get a blocking wait of their own (one Redis connection each) for
   * sub-millisecond pickup; the rest are watched through keyspace notifications or one EXISTS per --interval.
   * Default 3.
   */
  blockingQueues: number;
  /**
   * How many more blocking waits follow the queues that had a job most recently (one Redis connection each,
   * opened on first use): a queue past the first --blocking-queues that keeps getting jobs is picked up in one
   * hop too, instead of a notification's two or a poll. Default 2.
   */
  followQueues: number;
  /**
   * Keyspace notifications for sub-millisecond pickup on every queue: "auto" uses them when the server's
   * notify-keyspace-events has E and l (or A); "enable" adds "El" to the server's setting; "off". Default auto.
   */
  keyspaceNotifications: "auto" | "enable" | "off";
  /** A resque-scheduler schedule file (YAML) whose recurring jobs the lock holder enqueues. Default none. */
  scheduleFile: string;
  /** Promote due delayed jobs (resque-scheduler's keys) while holding its master lock; at most one process does. Default true. */
  promote: boolean;
  /**
   * Failover without duplicates (issue #14): a job starts only after its fetch (and the acks sent with it) has
   * reached this many replicas (Redis WAIT); a call not yet replicated is sent again, to the new primary after a
   * failover. 0 (default): off.
   */
  minReplicas: number;
}

export function defaultUri(env: Record<string, string | undefined>): string {
  if (env.REDIS_URL) return env.REDIS_URL;
  const provider = env.REDIS_PROVIDER;
  if (provider && env[provider]) return env[provider] as string;
  return "redis://localhost:6379/";
}

export function defaultSettings(env: Record<string, string | undefined> = process.env): Settings {
  return {
    queues: [],
    interval: 5,
    concurrency: 25,
    connections: 2,
    uri: defaultUri(env),
    namespace: "resque:",
    exitOnComplete: false,
    useNumber: false,
    insecureTls: false,
    tlsCert: "",
    logLevel: "info",
    logFormat: "pretty",
    shutdownTimeout: 8,
    jobTimeout: 0,
    processes: 1,
    deadJobs: "requeue",
    heartbeatInterval: 20,
    deadAfter: 60,
    commandTimeout: 10,
    blockingQueues: 3,
    followQueues: 2,
    keyspaceNotifications: "auto",
    promote: true,
    scheduleFile: "",
    minReplicas: 0,
  };
}

/** Each blocking queue holds a Redis connection: the bound keeps a worker's connections a small constant. */
export const MAX_BLOCKING_QUEUES = 32;
const NOTIFY_MODES: readonly Settings["keyspaceNotifications"][] = ["auto", "enable", "off"];

const LOG_LEVELS: readonly LogLevel[] = ["silent", "error", "warn", "info", "debug", "trace"];

export type DurationSetting = "interval" | "shutdownTimeout" | "jobTimeout" | "heartbeatInterval" | "deadAfter" | "commandTimeout";

export interface DurationLimit {
  flag: string;
  /** Seconds. */
  max: number;
  /** The maximum in words, for the flag help and the error. */
  words: string;
}

// JS timers fire at once (after ~1 ms) for any delay above 2^31-1 ms, so every duration is bounded below that.
// Only --job-timeout gets the whole range (a job may legitimately run for weeks); the others are bounded where a
// larger value can only be a mistake, and where the code multiplies them (the blocking wait adds
// --command-timeout, release waits 3 x --command-timeout, the reaper runs every 2 x --heartbeat-interval).
export const DURATION_LIMITS: Readonly<Record<DurationSetting, DurationLimit>> = {
  interval: { flag: "interval", max: 300, words: "5 minutes" },
  shutdownTimeout: { flag: "shutdown-timeout", max: 86_400, words: "1 day" },
  jobTimeout: { flag: "job-timeout", max: 2_147_483, words: "24.8 days" },
  // Ruby's prune_dead_workers unregisters a slot whose workers:heartbeat is older than 300 s and records a false
  // PruneDeadWorkerDirtyExit for its job (issue #14): half that window leaves room for one late or skipped beat.
  heartbeatInterval: { flag: "heartbeat-interval", max: 150, words: "2.5 minutes, half of Resque's 300 s prune window: a Ruby worker prunes slots whose heartbeat is older" },
  deadAfter: { flag: "dead-after", max: 86_400, words: "1 day" },
  commandTimeout: { flag: "command-timeout", max: 3600, words: "1 hour" },
};

function duration(s: Settings, key: DurationSetting, min: number): void {
  const v = s[key];
  const { flag, max, words } = DURATION_LIMITS[key];
  if (!Number.isFinite(v) || v < min) throw new SettingsError(`--${flag} must be a number >= ${min}, got ${v}`);
  if (v > max) throw new SettingsError(`--${flag} must be at most ${max} (${words}), got ${v}`);
}

/**
 * Every URI must start with `scheme://`: only then can redact() (uri.ts) find and hide the password, so a
 * value without one is refused here without echoing what may be a password (`user:pw@host`, `:pw@host`).
 */
export function checkUriShape(uri: string): void {
  if (/^[a-z+]+:\/\//i.test(uri)) return;
  const at = uri.lastIndexOf("@");
  const shown = at < 0 ? "" : `, got "***${uri.slice(at)}"`;
  throw new SettingsError(`--uri must start with redis://, rediss://, unix:// or redis+sentinel:// (e.g. redis://:password@host:6379/0)${shown}`);
}

/** Throws SettingsError naming the first bad setting; returns the parsed queue list. */
export function validate(s: Settings): QueueSpec[] {
  if (s.queues.length === 0) throw new SettingsError("--queues is required (e.g. --queues=high,low)");
  const specs = parseQueues(s.queues);
  duration(s, "interval", 0.01);
  if (!Number.isInteger(s.concurrency) || s.concurrency < 1) throw new SettingsError(`--concurrency must be an integer >= 1, got ${s.concurrency}`);
  if (!Number.isInteger(s.connections) || s.connections < 1) throw new SettingsError(`--connections must be an integer >= 1, got ${s.connections}`);
  if (s.processes !== "auto" && (!Number.isInteger(s.processes) || s.processes < 1)) throw new SettingsError(`--processes must be an integer >= 1 or "auto", got ${s.processes}`);
  duration(s, "shutdownTimeout", 0);
  duration(s, "jobTimeout", 0);
  duration(s, "heartbeatInterval", 0.05);
  duration(s, "deadAfter", s.heartbeatInterval * 2);
  duration(s, "commandTimeout", 0.05);
  checkUriShape(s.uri);
  if (!LOG_LEVELS.includes(s.logLevel)) throw new SettingsError(`--log-level must be one of ${LOG_LEVELS.join(", ")}, got ${s.logLevel}`);
  if (s.logFormat !== "pretty" && s.logFormat !== "json") throw new SettingsError(`--log-format must be pretty or json, got ${s.logFormat}`);
  if (s.deadJobs !== "requeue" && s.deadJobs !== "fail") throw new SettingsError(`--dead-jobs must be requeue or fail, got ${s.deadJobs}`);
  if (!s.namespace) throw new SettingsError("--namespace must not be empty");
  if (!Number.isInteger(s.blockingQueues) || s.blockingQueues < 0 || s.blockingQueues > MAX_BLOCKING_QUEUES) {
    throw new SettingsError(`--blocking-queues must be an integer from 0 to ${MAX_BLOCKING_QUEUES}, got ${s.blockingQueues}`);
  }
  if (!Number.isInteger(s.followQueues) || s.followQueues < 0 || s.followQueues > MAX_BLOCKING_QUEUES) {
    throw new SettingsError(`--follow-queues must be an integer from 0 to ${MAX_BLOCKING_QUEUES}, got ${s.followQueues}`);
  }
  if (typeof s.promote !== "boolean") throw new SettingsError(`--promote must be true or false, got ${String(s.promote)}`);
  if (!Number.isInteger(s.minReplicas) || s.minReplicas < 0 || s.minReplicas > 16) throw new SettingsError(`--min-replicas must be an integer from 0 to 16, got ${s.minReplicas}`);
  if (!NOTIFY_MODES.includes(s.keyspaceNotifications)) throw new SettingsError(`--keyspace-notifications must be one of ${NOTIFY_MODES.join(", ")}, got ${s.keyspaceNotifications}`);
  return specs;
}

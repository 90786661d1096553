// Every Redis key bunworker reads or writes, in one place. The Resque keys follow
// shared/reference/resque-data-model.md section 1 byte for byte; ours live under `<ns>bunworker:` so
// that nothing Resque reads (`queue:*`, `worker:*`, `stat:*`, `failed`, ...) can collide with them.
// A running job's in-flight record is Resque's own worker:<id> state: one write per job serves both.

export interface Keys {
  readonly ns: string;
  readonly queues: string;
  queue(name: string): string;
  readonly queuePrefix: string;
  readonly workers: string;
  worker(id: string): string;
  readonly workerPrefix: string;
  started(id: string): string;
  /** What follows worker:<id> in the started key (the scripts build it from the id). */
  readonly startedSuffix: string;
  readonly heartbeats: string;
  readonly pruneLock: string;
  readonly processed: string;
  processedBy(id: string): string;
  readonly processedPrefix: string;
  readonly failedCount: string;
  failedBy(id: string): string;
  readonly failedPrefix: string;
  readonly failed: string;
  readonly pause: string;
  /** HASH process ("host:pid:instance") -> JSON list of its worker ids, written at registration, removed by release. */
  readonly processes: string;
  /** HASH process -> "<last heartbeat, ms of the Redis clock>|<liveness identity>" (identity.ts). */
  readonly beats: string;
  /** HASH fetch lane -> number of its last applied call, so a resent call is not applied twice. */
  lanes(proc: string): string;
  /** resque-scheduler (reference section 1): ZSET of due seconds, member = score = the integer string. */
  readonly delayedSchedule: string;
  /** LIST of delayed items due at second `ts`; the prefix is also what `delayed:last_enqueued_at` (a HASH) starts with. */
  delayed(ts: string): string;
  readonly delayedPrefix: string;
  /** SET of the (un-namespaced) bucket names holding these exact item bytes. */
  timestamps(item: string): string;
  readonly timestampsPrefix: string;
  /** resque-scheduler's master lock: "<ns>:<ns>:resque_scheduler_master_lock", the namespace applied twice as Ruby does. */
  readonly schedulerLock: string;
  /** HASH schedule name -> Ruby Time#to_s of its last enqueue (web UI). */
  readonly lastEnqueuedAt: string;
  /** HASH schedule name -> JSON config: Ruby's dynamic schedules that were persisted. */
  readonly persistentSchedules: string;
  /** HASH schedule name -> epoch ms of the last tick enqueued (ours: each tick enqueued once across masters). */
  readonly scheduleTicks: string;
  /**
   * HASH minute since the epoch -> "<stat:processed>|<stat:failed>", the dashboard's per-minute history
   * (history-3.lua, at most ~80 fields). Fleet statistics no process owns, so outside bunworker:*, which holds
   * only what a process owns and releases.
   */
  readonly history: string;
  /**
   * resque-retry's keys (reference section 5), given the un-namespaced counter name `resque-retry:<Class>[:<sha1>]`
   * (retry-key.ts): STRING the attempt counter, and STRING `failure-<counter>` the last intermediate failure.
   */
  retryCounter(name: string): string;
  retryFailure(name: string): string;
  /** The un-namespaced prefix every counter name starts with. */
  readonly retryCounterPrefix: string;
  /** LIST outcomes of finished jobs a stopped worker could not record (keep-outcomes-2.lua), written at the next start. */
  readonly outcomes: string;
  /**
   * STRING prefix: `<prefix><sha1 of a payload>` counts the deaths of processes that were running that job
   * (release-5.lua, issue #14); it expires. Outside bunworker:* because no process owns it: it outlives them.
   */
  readonly crashesPrefix: string;
}

export function makeKeys(ns: string): Keys {
  const own = `${ns}bunworker:`;
  return {
    ns,
    queues: `${ns}queues`,
    queue: (name) => `${ns}queue:${name}`,
    queuePrefix: `${ns}queue:`,
    workers: `${ns}workers`,
    worker: (id) => `${ns}worker:${id}`,
    workerPrefix: `${ns}worker:`,
    started: (id) => `${ns}worker:${id}:started`,
    startedSuffix: ":started",
    heartbeats: `${ns}workers:heartbeat`,
    pruneLock: `${ns}pruning_dead_workers_in_progress`,
    processed: `${ns}stat:processed`,
    processedBy: (id) => `${ns}stat:processed:${id}`,
    processedPrefix: `${ns}stat:processed:`,
    failedCount: `${ns}stat:failed`,
    failedBy: (id) => `${ns}stat:failed:${id}`,
    failedPrefix: `${ns}stat:failed:`,
    failed: `${ns}failed`,
    pause: `${ns}pause-all-workers`,
    processes: `${own}processes`,
    beats: `${own}beats`,
    lanes: (proc) => `${own}lanes:${proc}`,
    delayedSchedule: `${ns}delayed_queue_schedule`,
    delayed: (ts) => `${ns}delayed:${ts}`,
    delayedPrefix: `${ns}delayed:`,
    timestamps: (item) => `${ns}timestamps:${item}`,
    timestampsPrefix: `${ns}timestamps:`,
    // Ruby builds "#{Resque.redis.namespace}:resque_scheduler_master_lock" and Redis::Namespace prefixes it again.
    schedulerLock: `${ns}${ns.replace(/:$/, "")}:resque_scheduler_master_lock`,
    lastEnqueuedAt: `${ns}delayed:last_enqueued_at`,
    persistentSchedules: `${ns}persistent_schedules`,
    scheduleTicks: `${own}schedule-ticks`,
    history: `${ns}bunworker-history`,
    retryCounter: (name) => `${ns}${name}`,
    retryFailure: (name) => `${ns}failure-${name}`,
    retryCounterPrefix: "resque-retry:",
    outcomes: `${own}outcomes`,
    crashesPrefix: `${ns}bunworker-crashes:`,
  };
}

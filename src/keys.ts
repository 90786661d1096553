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
  /** LIST outcomes of finished jobs a stopped worker could not record (keep-outcomes-2.lua), written at the next start. */
  readonly outcomes: string;
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
    outcomes: `${own}outcomes`,
  };
}

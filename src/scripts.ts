// The Lua scripts and one typed function per script: named fields in, a typed result out. Only this module
// knows each script's KEYS/ARGV order (written once more in the script's header); callers and tests use the
// functions. Scripts are loaded as text (so `bun build --compile` embeds them) and run with EVALSHA, falling
// back to EVAL when the server does not know the script yet (after a restart or SCRIPT FLUSH).
import type { RedisClient } from "bun";
import type { FailureFields } from "./failure";
import type { Keys } from "./keys";
import { pushRetries, type RetryAck } from "./retry-args";
import includeRecord from "./lua/include-record.lua" with { type: "text" };
import laneCycleLua from "./lua/lane-cycle-6.lua" with { type: "text" };
import includeRetry from "./lua/include-retry.lua" with { type: "text" };
import releaseLua from "./lua/release-5.lua" with { type: "text" };
import heartbeatLua from "./lua/heartbeat-4.lua" with { type: "text" };
import pickupLua from "./lua/pickup-5.lua" with { type: "text" };
import beatLua from "./lua/beat-2.lua" with { type: "text" };
import failRunningLua from "./lua/fail-running-6.lua" with { type: "text" };
import keepOutcomesLua from "./lua/keep-outcomes-2.lua" with { type: "text" };
import recordOutcomesLua from "./lua/record-outcomes-4.lua" with { type: "text" };

export interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
  readonly numKeys: number;
}

export function script(name: string, body: string, numKeys: number, includes = ""): Script {
  const source = includes + "\n" + body;
  const sha = new Bun.CryptoHasher("sha1").update(source).digest("hex");
  return { name, source, sha, numKeys };
}

export const scripts = {
  laneCycle: script("lane-cycle", laneCycleLua, 6, includeRecord + "\n" + includeRetry),
  release: script("release", releaseLua, 5, includeRecord),
  heartbeat: script("heartbeat", heartbeatLua, 4, includeRecord),
  pickup: script("pickup", pickupLua, 5, includeRecord),
  // Run by the beat thread (pulse.ts), which gets their sources: it shares no module with the main thread.
  beat: script("beat", beatLua, 2),
  failRunning: script("fail-running", failRunningLua, 6, includeRecord),
  keepOutcomes: script("keep-outcomes", keepOutcomesLua, 2, includeRecord),
  recordOutcomes: script("record-outcomes", recordOutcomesLua, 4, includeRecord),
} as const;

/**
 * A script found a key it must write holding the wrong type or value, and changed nothing (issue #9). Retrying
 * cannot help: the key must be fixed or deleted by hand.
 */
export class BadKeyError extends Error {
  override name = "BadKeyError";
  constructor(readonly key: string, readonly why: string) {
    super(`${key} ${why}: fix or delete it`);
  }
}

/** How many times a script was sent again as EVAL (NOSCRIPT): a WAIT pipelined behind its EVALSHA did not cover it. */
export let evalFallbacks = 0;

/** Runs a script; keys.length must equal script.numKeys. Server errors name the script. */
export async function runScript<T>(client: RedisClient, s: Script, keys: string[], args: (string | number)[]): Promise<T> {
  // One argument array per call (this is the fetch loop's hot path); only the first element differs for EVAL.
  const argv = [s.sha, String(s.numKeys), ...keys];
  for (const a of args) argv.push(String(a));
  try {
    return (await client.send("EVALSHA", argv)) as T;
  } catch (e) {
    if (!(e instanceof Error) || !e.message.includes("NOSCRIPT")) throw tagged(s, e);
    argv[0] = s.source;
    evalFallbacks++;
    try {
      return (await client.send("EVAL", argv)) as T;
    } catch (e2) {
      throw tagged(s, e2);
    }
  }
}

function tagged(s: Script, e: unknown): unknown {
  if (!(e instanceof Error) || (e as { code?: string }).code !== "ERR_REDIS_SERVER_ERROR") return e;
  const bad = /^BADKEY (\S+) (.*)$/.exec(e.message);
  if (bad) return new BadKeyError(bad[1] as string, bad[2] as string);
  // Named at the end: callers match Redis's own reply at the start (LOADING, OOM, READONLY, ...).
  e.message = `${e.message} (in the ${s.name} script)`;
  return e;
}

// ---- lane-cycle-6.lua

/**
 * A finished job's outcome, for the lane's next call. `token` names the job (the call number of the fetch that
 * put it into the slot, or the pickup's token): an ack for another job than the slot holds applies nothing.
 * "bad": the item is not a runnable JSON object.
 */
export type SlotOp =
  | { kind: "ack"; id: string; slot: number; token: string; outcome: "ok" }
  | { kind: "ack"; id: string; slot: number; token: string; outcome: "fail" | "bad"; failure: FailureFields; queue: string; raw: string }
  // A class with a retry policy (issue #17): "ok"/"fail" plus resque-retry's bookkeeping (include-retry.lua).
  | { kind: "ack"; id: string; slot: number; token: string; outcome: "done"; retry: RetryAck }
  | { kind: "ack"; id: string; slot: number; token: string; outcome: "retry" | "giveup"; failure: FailureFields; queue: string; raw: string; retry: RetryAck };

export type { RetryAck };

/** A slot as the scripts know it: its worker id and its number in the process (0 .. concurrency - 1). */
export interface SlotRef {
  id: string;
  slot: number;
}

export interface CycleInput {
  proc: string;
  lane: number;
  /** The lane's call number; a resent call (same number) is applied at most once. */
  call: number;
  runAt: string;
  failedAt: string;
  ops: readonly SlotOp[];
  /** The free slots to fill, in slot order. */
  fill: readonly SlotRef[];
  /** Queues in the order this fetch visits them. */
  queues: readonly string[];
}

export interface FetchedJob {
  /** Index into `fill`. */
  slot: number;
  queue: string;
  /** The bytes are not UTF-8 (the payload arrives with replacement characters). */
  notUtf8: boolean;
  raw: string;
}

export interface CycleResult {
  /** Nothing was fetched because resque:pause-all-workers is set, or this process is not registered (reaped). */
  paused: false | "pause-all-workers" | "unregistered";
  jobs: FetchedJob[];
  /** Queues whose key holds another type than a list: skipped. */
  badQueues: string[];
  /** Acks applied although their slot had no valid token (the lanes hash or a slot's token field was tampered with). */
  tampered: number;
  /** Worker ids whose state was deleted from outside while their job ran (counted as processed all the same). */
  gone: string[];
}

/** The lanes hash's fields and values for these tokens, slot number 0 first, as the scripts write them. */
export function tokenFields(tokens: readonly string[]): string[] {
  return tokens.flatMap((t, slot) => [`t${slot}`, t]);
}

function pushOp(args: (string | number)[], op: SlotOp): void {
  if (op.outcome === "ok" || op.outcome === "done") args.push(op.id, op.slot, op.token, op.outcome, "", "", "");
  else args.push(op.id, op.slot, op.token, op.outcome, JSON.stringify(op.failure.exception), JSON.stringify(op.failure.error), JSON.stringify(op.failure.backtrace));
}

function pushOther(args: (string | number)[], k: number, op: Exclude<SlotOp, { outcome: "ok" }>): void {
  if (op.outcome === "done") args.push(k, op.outcome, "", "", "");
  else args.push(k, op.outcome, JSON.stringify(op.failure.exception), JSON.stringify(op.failure.error), JSON.stringify(op.failure.backtrace));
}

export async function laneCycle(c: RedisClient, keys: Keys, input: CycleInput): Promise<CycleResult> {
  const { ops } = input;
  let others = 0;
  for (const op of ops) if (op.outcome !== "ok") others++;
  const args: (string | number)[] = [keys.workerPrefix, keys.processedPrefix, keys.failedPrefix, keys.queuePrefix,
    input.runAt, input.failedAt, input.lane, input.call, ops.length, input.fill.length, input.queues.length, input.proc, others];
  // An "ok" ack is 3 arguments; the others' outcome and failure follow all acks, numbered (lane-cycle-6.lua).
  for (const op of ops) args.push(op.id, op.slot, op.token);
  if (others) ops.forEach((op, k) => { if (op.outcome !== "ok") pushOther(args, k + 1, op); });
  for (const f of input.fill) args.push(f.id, f.slot);
  args.push(...input.queues);
  // A failed job's queue and item, for the failure entry when its state was deleted under it (rare: failures only).
  for (const op of input.ops) if (op.outcome !== "ok" && op.outcome !== "done") args.push(op.queue, op.raw);
  pushRetries(args, keys, input.ops);
  const reply = await runScript<(string | number)[]>(c, scripts.laneCycle,
    [keys.lanes(input.proc), keys.processed, keys.failedCount, keys.failed, keys.pause, keys.beats], args);
  const n = Number(reply[1]);
  const jobs: FetchedJob[] = new Array(n);
  // Each job is its slot (an integer, negative when the payload is not UTF-8) and payload, after its queue's
  // name when that differs from the previous job's (a string: the script's reply keeps the two apart).
  let at = 4;
  let queue = "";
  for (let k = 0; k < n; k++) {
    if (typeof reply[at] === "string") queue = reply[at++] as string;
    const slot = Number(reply[at]);
    jobs[k] = { slot: Math.abs(slot) - 1, queue, notUtf8: slot < 0, raw: String(reply[at + 1]) };
    at += 2;
  }
  const paused = Number(reply[0]) === 1 ? "pause-all-workers" : Number(reply[0]) === 2 ? "unregistered" : false;
  const g = Number(reply[3]);
  const goneAt = at;
  return { paused, jobs, tampered: Number(reply[2]), gone: g ? reply.slice(goneAt, goneAt + g).map(String) : [], badQueues: reply.slice(goneAt + g).map(String) };
}

/** What a kept outcome records: a retry's bookkeeping is not kept, its attempt becomes a plain failure (nothing lost). */
function plainOp(op: SlotOp): SlotOp {
  if (op.outcome === "done") return { kind: "ack", id: op.id, slot: op.slot, token: op.token, outcome: "ok" };
  if (op.outcome === "retry" || op.outcome === "giveup") return { kind: "ack", id: op.id, slot: op.slot, token: op.token, outcome: "fail", failure: op.failure, queue: op.queue, raw: op.raw };
  return op;
}

// ---- release-5.lua

export interface ReleaseInput {
  proc: string;
  /** requeue: running jobs go back to the front of their queues; fail: Resque's prune failures. */
  mode: "requeue" | "fail";
  failedAt: string;
  /** A dead process's: requeued jobs count a death, and the CRASH_LIMIT-th fails them. Our own shutdown: none. */
  crashLimit?: number;
}

/** Deaths of processes running the same job (within CRASH_WINDOW_S) after which release fails it (issue #14). */
export const CRASH_LIMIT = 3;
export const CRASH_WINDOW_S = 3600;

export interface Released {
  requeued: number;
  failed: number;
  /** Worker ids unregistered: 0 when the process had already been released. */
  unregistered: number;
}

export async function releaseProcess(c: RedisClient, keys: Keys, input: ReleaseInput): Promise<Released> {
  const [requeued, failed, unregistered] = await runScript<[number, number, number]>(c, scripts.release,
    [keys.lanes(input.proc), keys.workers, keys.heartbeats, keys.processes, keys.beats],
    [input.proc, input.mode, keys.queuePrefix, keys.workerPrefix, keys.startedSuffix, keys.processedPrefix, keys.failedPrefix,
      keys.failed, input.failedAt, keys.crashesPrefix, input.crashLimit ?? 0, CRASH_WINDOW_S]);
  return { requeued, failed, unregistered };
}

// ---- heartbeat-4.lua

export interface HeartbeatInput {
  proc: string;
  ids: readonly string[];
  /** workers:heartbeat value. */
  heartbeatAt: string;
  /** worker:<id>:started value, written only for ids that are (re-)registered. */
  startedAt: string;
  /** This process's liveness identity (identity.ts), stored with its beat. */
  identity: string;
}

export interface HeartbeatResult {
  /** Ids that were not registered (all of them at the first beat). */
  added: number;
  /** The Redis clock, in ms. */
  nowMs: number;
  /** The process entry (bunworker:processes) was missing or garbled and has been written again. */
  rebuilt: boolean;
  /** Every process's beat value, ours included: "<ms>|<identity>|<valid ms>". */
  beats: Record<string, string>;
}

export async function heartbeat(c: RedisClient, keys: Keys, input: HeartbeatInput): Promise<HeartbeatResult> {
  const reply = await runScript<(string | number)[]>(c, scripts.heartbeat, [keys.workers, keys.heartbeats, keys.processes, keys.beats],
    [input.proc, input.heartbeatAt, input.startedAt, keys.workerPrefix, keys.startedSuffix, input.identity, JSON.stringify(input.ids), ...input.ids]);
  const beats: Record<string, string> = {};
  for (let k = 3; k + 1 < reply.length; k += 2) beats[String(reply[k])] = String(reply[k + 1]);
  return { added: Number(reply[0]), nowMs: Number(reply[1]), rebuilt: Number(reply[2]) === 1, beats };
}

// ---- pickup-5.lua

export interface PickupInput extends SlotRef {
  proc: string;
  queue: string;
  /** The job's token, which its ack will name (see SlotOp). */
  token: string;
  runAt: string;
}

export interface PickedJob {
  notUtf8: boolean;
  raw: string;
  /** The queue still has jobs: the lanes should fetch. */
  more: boolean;
}

/**
 * Sends the pickup now (in the caller's tick, so it is pipelined behind a command sent just before). Resolves
 * to the job taken, null when the queue was empty, or "skip" when it has jobs this pickup could not take.
 */
export async function pickup(c: RedisClient, keys: Keys, input: PickupInput): Promise<PickedJob | null | "skip"> {
  const reply = await runScript<(string | number)[]>(c, scripts.pickup, [keys.queue(input.queue), keys.worker(input.id), keys.beats, keys.pause, keys.lanes(input.proc)],
    [input.proc, input.runAt, input.queue, input.slot, input.token]);
  if (reply.length === 0) return null;
  if (reply[0] === "skip") return "skip";
  return { notUtf8: reply[0] === "u", raw: String(reply[1]), more: Number(reply[2]) === 1 };
}

// ---- keep-outcomes-2.lua, record-outcomes-4.lua

/** Keeps the outcomes of finished jobs whose acks could not be written; returns how many were kept. */
export async function keepOutcomes(c: RedisClient, keys: Keys, input: { proc: string; failedAt: string; ops: readonly SlotOp[] }): Promise<number> {
  const args: (string | number)[] = [keys.workerPrefix, input.failedAt, input.ops.length];
  for (const op of input.ops) pushOp(args, plainOp(op));
  return Number(await runScript<number>(c, scripts.keepOutcomes, [keys.lanes(input.proc), keys.outcomes], args));
}

/** Writes the kept outcomes (counters, failure entries) and deletes them. */
export async function recordOutcomes(c: RedisClient, keys: Keys): Promise<{ processed: number; failed: number }> {
  const [processed, failed] = await runScript<[number, number]>(c, scripts.recordOutcomes, [keys.outcomes, keys.processed, keys.failedCount, keys.failed], []);
  return { processed: Number(processed), failed: Number(failed) };
}

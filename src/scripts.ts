// The Lua scripts and one typed function per script: named fields in, a typed result out. Only this module
// knows each script's KEYS/ARGV order (written once more in the script's header); callers and tests use the
// functions. Scripts are loaded as text (so `bun build --compile` embeds them) and run with EVALSHA, falling
// back to EVAL when the server does not know the script yet (after a restart or SCRIPT FLUSH).
import type { RedisClient } from "bun";
import type { FailureFields } from "./failure";
import type { Keys } from "./keys";
import includeRecord from "./lua/include-record.lua" with { type: "text" };
import laneCycleLua from "./lua/lane-cycle-5.lua" with { type: "text" };
import releaseLua from "./lua/release-6.lua" with { type: "text" };
import heartbeatLua from "./lua/heartbeat-4.lua" with { type: "text" };
import unlockLua from "./lua/unlock-1.lua" with { type: "text" };

export interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
  readonly numKeys: number;
}

function script(name: string, body: string, numKeys: number, includes = ""): Script {
  const source = includes + "\n" + body;
  const sha = new Bun.CryptoHasher("sha1").update(source).digest("hex");
  return { name, source, sha, numKeys };
}

export const scripts = {
  laneCycle: script("lane-cycle", laneCycleLua, 5, includeRecord),
  release: script("release", releaseLua, 6, includeRecord),
  heartbeat: script("heartbeat", heartbeatLua, 4),
  unlock: script("unlock", unlockLua, 1),
} as const;

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
    try {
      return (await client.send("EVAL", argv)) as T;
    } catch (e2) {
      throw tagged(s, e2);
    }
  }
}

function tagged(s: Script, e: unknown): unknown {
  if (e instanceof Error && (e as { code?: string }).code === "ERR_REDIS_SERVER_ERROR") e.message = `${s.name} script: ${e.message}`;
  return e;
}

// ---- lane-cycle-5.lua

export type Outcome = "ok" | "fail" | "bad";

/** What happened in a slot since the lane's last call, in order. */
export type SlotOp =
  | { kind: "ack"; id: string; outcome: "ok" }
  /** "bad": the item is not a runnable JSON object; its failure entry keeps it as a string. */
  | { kind: "ack"; id: string; outcome: "fail" | "bad"; failure: FailureFields }
  /** The job a blocker moved to landing:<queue> is running in slot `id`. */
  | { kind: "claim"; id: string; queue: string };

export interface CycleInput {
  proc: string;
  lane: number;
  /** The lane's call number; a resent call (same number) is applied at most once. */
  call: number;
  runAt: string;
  failedAt: string;
  ops: readonly SlotOp[];
  /** Worker ids of the free slots to fill, in slot order. */
  fill: readonly string[];
  /** Queues in the order this fetch visits them. */
  queues: readonly string[];
  /** Queues whose landing list goes back to the front of the queue. */
  sweeps: readonly string[];
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
  /** resque:pause-all-workers is set: nothing was fetched. */
  paused: boolean;
  jobs: FetchedJob[];
}

function pushOp(args: (string | number)[], op: SlotOp): void {
  if (op.kind === "claim") args.push("claim", op.id, op.queue, "", "", "");
  else if (op.outcome === "ok") args.push("ack", op.id, "ok", "", "", "");
  else {
    const f = op.failure;
    args.push("ack", op.id, op.outcome, JSON.stringify(f.exception), JSON.stringify(f.error), JSON.stringify(f.backtrace));
  }
}

export async function laneCycle(c: RedisClient, keys: Keys, input: CycleInput): Promise<CycleResult> {
  const args: (string | number)[] = [keys.workerPrefix, keys.processedPrefix, keys.failedPrefix, keys.queuePrefix, keys.landingPrefix(input.proc),
    input.runAt, input.failedAt, input.lane, input.call, input.ops.length, input.fill.length, input.queues.length, input.sweeps.length];
  for (const op of input.ops) pushOp(args, op);
  args.push(...input.fill, ...input.queues, ...input.sweeps);
  const reply = await runScript<(string | number)[]>(c, scripts.laneCycle,
    [keys.lanes(input.proc), keys.processed, keys.failedCount, keys.failed, keys.pause], args);
  const n = Number(reply[1]);
  const jobs: FetchedJob[] = new Array(n);
  for (let k = 0; k < n; k++) {
    const at = 2 + k * 4;
    jobs[k] = { slot: Number(reply[at]) - 1, queue: String(reply[at + 1]), notUtf8: reply[at + 2] === "u", raw: String(reply[at + 3]) };
  }
  return { paused: Number(reply[0]) === 1, jobs };
}

// ---- release-6.lua

export interface ReleaseInput {
  proc: string;
  /** requeue: running jobs go back to the front of their queues; fail: Resque's prune failures. */
  mode: "requeue" | "fail";
  failedAt: string;
}

export async function releaseProcess(c: RedisClient, keys: Keys, input: ReleaseInput): Promise<{ requeued: number; failed: number }> {
  const [requeued, failed] = await runScript<[number, number]>(c, scripts.release,
    [keys.lanes(input.proc), keys.landings(input.proc), keys.workers, keys.heartbeats, keys.processes, keys.beats],
    [input.proc, input.mode, keys.queuePrefix, keys.workerPrefix, keys.startedSuffix, keys.processedPrefix, keys.failedPrefix,
      keys.landingPrefix(input.proc), keys.failed, input.failedAt]);
  return { requeued, failed };
}

// ---- heartbeat-4.lua

export interface HeartbeatInput {
  proc: string;
  ids: readonly string[];
  /** workers:heartbeat value. */
  heartbeatAt: string;
  /** worker:<id>:started value, written only for ids that are (re-)registered. */
  startedAt: string;
}

/** Resolves to the number of ids that were not registered. */
export function heartbeat(c: RedisClient, keys: Keys, input: HeartbeatInput): Promise<number> {
  return runScript<number>(c, scripts.heartbeat, [keys.workers, keys.heartbeats, keys.processes, keys.beats],
    [input.proc, input.heartbeatAt, input.startedAt, keys.workerPrefix, keys.startedSuffix, JSON.stringify(input.ids), ...input.ids]);
}

// ---- unlock-1.lua

/** Deletes the prune lock only if `owner` still holds it; resolves to 1 if it did. */
export function unlock(c: RedisClient, lockKey: string, owner: string): Promise<number> {
  return runScript<number>(c, scripts.unlock, [lockKey], [owner]);
}

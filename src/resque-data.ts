// What Resque's own tools read, read the same way for any worker of the fleet (Ruby, goworker, bunworker):
// Resque.info, queue sizes, the workers with their state and heartbeat (reference sections 1, 5, 6).
// Only reads; never KEYS or SCAN: every key is named by the queues and workers sets.
import type { RedisClient } from "bun";
import type { Keys } from "./keys";

export interface ResqueInfo {
  pending: number;
  processed: number;
  queues: number;
  workers: number;
  working: number;
  failed: number;
  servers: string[];
  environment: string;
}

const BATCH = 500;

/** Calls `f` on slices of `items`, `BATCH` at a time (each slice pipelined by the client). */
async function inBatches<T, R>(items: readonly T[], f: (slice: T[]) => Promise<R[]>, progress?: (done: number, total: number) => void): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += BATCH) {
    out.push(...(await f(items.slice(i, i + BATCH))));
    progress?.(Math.min(items.length, i + BATCH), items.length);
  }
  return out;
}

export async function smembers(c: RedisClient, key: string): Promise<string[]> {
  return ((await c.send("SMEMBERS", [key])) as string[]).sort();
}

export async function mget(c: RedisClient, keys: string[]): Promise<(string | null)[]> {
  return inBatches(keys, (slice) => (slice.length ? (c.send("MGET", slice) as Promise<(string | null)[]>) : Promise.resolve([])));
}

/** Redis's clock in ms: ages are measured against it, as Resque's prune does, not the local clock. */
export async function redisNowMs(c: RedisClient): Promise<number> {
  const [s, us] = (await c.send("TIME", [])) as [string, string];
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** Resque.info (reference section 5): pending = sum of LLEN over the queues set, failed = LLEN failed. */
export async function resqueInfo(c: RedisClient, keys: Keys, server: string, env: Record<string, string | undefined> = process.env): Promise<ResqueInfo> {
  const [queues, workers, processed, failed] = await Promise.all([
    smembers(c, keys.queues),
    smembers(c, keys.workers),
    c.send("GET", [keys.processed]) as Promise<string | null>,
    c.send("LLEN", [keys.failed]) as Promise<number>,
  ]);
  const sizes = await inBatches(queues, (s) => Promise.all(s.map((q) => c.send("LLEN", [keys.queue(q)]) as Promise<number>)));
  const states = await mget(c, workers.map((w) => keys.worker(w)));
  return {
    pending: sizes.reduce((a, b) => a + b, 0),
    processed: Number(processed ?? 0),
    queues: queues.length,
    workers: workers.length,
    working: states.filter((s) => s !== null && s !== "").length,
    failed,
    servers: [server],
    environment: env.RAILS_ENV || env.RACK_ENV || "development",
  };
}

export interface QueueRow {
  name: string;
  size: number;
  /** Seconds since the oldest item was enqueued, when the item says (see oldestAge); null when unknowable. */
  oldestAge: number | null;
}

/**
 * Resque payloads carry no enqueue time (reference section 2), so the age of a queue's oldest item is known
 * only when its payload says: a top-level `enqueued_at` (epoch seconds, or an ISO time, as some clients add)
 * or ActiveJob's `args[0].enqueued_at` (activejob-on-resque.md). Otherwise null: we do not guess.
 */
export function enqueuedAtMs(raw: string | null): number | null {
  if (!raw) return null;
  let p: unknown;
  try {
    p = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!p || typeof p !== "object") return null;
  const o = p as { enqueued_at?: unknown; args?: unknown };
  const aj = Array.isArray(o.args) && o.args[0] && typeof o.args[0] === "object" ? (o.args[0] as { enqueued_at?: unknown }).enqueued_at : undefined;
  const v = o.enqueued_at ?? aj;
  if (typeof v === "number" && Number.isFinite(v)) return v * 1000;
  if (typeof v === "string") {
    const ms = Date.parse(v);
    return Number.isNaN(ms) ? null : ms;
  }
  return null;
}

/** Every queue of the queues set with its size and oldest item's age; 2 commands per queue, pipelined. */
export async function queueRows(c: RedisClient, keys: Keys, progress?: (done: number, total: number) => void): Promise<QueueRow[]> {
  const [names, now] = await Promise.all([smembers(c, keys.queues), redisNowMs(c)]);
  return inBatches(
    names,
    (slice) =>
      Promise.all(
        slice.map(async (name) => {
          const [size, head] = await Promise.all([c.send("LLEN", [keys.queue(name)]) as Promise<number>, c.send("LINDEX", [keys.queue(name), "0"]) as Promise<string | null>]);
          const at = enqueuedAtMs(head);
          return { name, size, oldestAge: at === null ? null : Math.max(0, Math.round((now - at) / 1000)) };
        }),
      ),
    progress,
  );
}

export interface WorkerRow {
  id: string;
  host: string;
  pid: string;
  queues: string;
  state: "working" | "idle";
  /** The running job's class and queue, when working. */
  job: { class: string; queue: string; runAt: string } | null;
  /** worker:<id>:started as written (Ruby's Time#to_s, Go's time.String()). */
  started: string | null;
  /** Seconds since the last heartbeat; null when the worker never sent one (goworker sends none). */
  heartbeatAge: number | null;
  /** Heartbeat older than the dead-after bound (Resque's prune_interval, 300 s). */
  dead: boolean;
}

/** Resque parses a worker id with split(':', 3): host, pid, queues (reference section 1). */
export function parseWorkerId(id: string): { host: string; pid: string; queues: string } {
  const a = id.indexOf(":");
  const b = a < 0 ? -1 : id.indexOf(":", a + 1);
  if (a < 0) return { host: id, pid: "", queues: "" };
  if (b < 0) return { host: id.slice(0, a), pid: id.slice(a + 1), queues: "" };
  return { host: id.slice(0, a), pid: id.slice(a + 1, b), queues: id.slice(b + 1) };
}

function decodeJob(raw: string | null): WorkerRow["job"] {
  if (!raw) return null;
  try {
    const w = JSON.parse(raw) as { queue?: unknown; run_at?: unknown; payload?: { class?: unknown } };
    return { class: String(w.payload?.class ?? "?"), queue: String(w.queue ?? "?"), runAt: String(w.run_at ?? "") };
  } catch {
    return { class: "(unreadable worker state)", queue: "?", runAt: "" };
  }
}

/** Every registered worker: one SMEMBERS, two MGETs, one HGETALL, whatever their number. */
export async function workerRows(c: RedisClient, keys: Keys, deadAfterSec = 300): Promise<WorkerRow[]> {
  const [ids, beatsFlat, now] = await Promise.all([
    smembers(c, keys.workers),
    c.send("HGETALL", [keys.heartbeats]) as Promise<Record<string, string> | string[]>,
    redisNowMs(c),
  ]);
  const beats = Array.isArray(beatsFlat) ? Object.fromEntries(beatsFlat.flatMap((v, i, a) => (i % 2 ? [] : [[v, a[i + 1]]]))) : beatsFlat;
  const [states, started] = await Promise.all([mget(c, ids.map((id) => keys.worker(id))), mget(c, ids.map((id) => keys.started(id)))]);
  return ids.map((id, i) => {
    const beat = beats[id];
    const beatMs = beat ? Date.parse(beat) : NaN;
    const heartbeatAge = Number.isNaN(beatMs) ? null : Math.max(0, Math.round((now - beatMs) / 1000));
    const job = decodeJob(states[i] ?? null);
    return { id, ...parseWorkerId(id), state: job ? "working" : "idle", job, started: started[i] ?? null, heartbeatAge, dead: heartbeatAge !== null && heartbeatAge > deadAfterSec };
  });
}

// Writing jobs as Resque.enqueue does: SADD <ns>queues <q> + RPUSH <ns>queue:<q> <payload>, payload
// {"class","args"} first, compact, extra keys kept, bigint args exact. enqueue() and enqueueMany() share
// encodeJob(), so a bulk write has the bytes of single writes.
import type { RedisClient } from "bun";
import { SettingsError } from "./errors";
import type { Keys } from "./keys";

export interface JobPayload {
  class: string;
  args?: unknown[];
  [extra: string]: unknown;
}

/** Jobs per RPUSH: one command (one round trip) per chunk; big enough to amortise, small enough not to stall Redis for long. */
export const CHUNK = 5000;

const bigintExact = (_k: string, v: unknown) => (typeof v === "bigint" ? JSON.rawJSON(v.toString()) : v);

export function encodeJob(payload: JobPayload): string {
  if (typeof payload?.class !== "string" || !payload.class) throw new SettingsError("enqueue: payload.class must be a non-empty string");
  const { class: cls, args = [], ...extra } = payload;
  if (!Array.isArray(args)) throw new SettingsError(`enqueue: payload.args of class "${cls}" must be an array`);
  return JSON.stringify({ class: cls, args, ...extra }, bigintExact);
}

/**
 * Every payload is encoded before anything is written (a bad one writes nothing). The queue is registered once,
 * then one RPUSH per chunk, all pipelined on the one connection, so they land in order. Each RPUSH is atomic;
 * if the connection fails midway the promise rejects and the chunks before it may already be in the queue.
 */
export async function pushJobs(c: RedisClient, keys: Keys, queue: string, payloads: readonly JobPayload[]): Promise<number> {
  return pushEncoded(c, keys, queue, encodeJobs(queue, payloads));
}

/** Every payload's bytes, or a SettingsError naming the first thing wrong: nothing is written before this. */
export function encodeJobs(queue: string, payloads: readonly JobPayload[]): string[] {
  if (typeof queue !== "string" || !queue) throw new SettingsError("enqueue: queue is required");
  if (!Array.isArray(payloads)) throw new SettingsError("enqueueMany: payloads must be an array");
  return payloads.map(encodeJob);
}

export async function pushEncoded(c: RedisClient, keys: Keys, queue: string, raws: readonly string[]): Promise<number> {
  if (raws.length === 0) return 0;
  const key = keys.queue(queue);
  const writes: Promise<unknown>[] = [c.sadd(keys.queues, queue)];
  for (let i = 0; i < raws.length; i += CHUNK) writes.push(c.send("RPUSH", [key, ...raws.slice(i, i + CHUNK)]));
  await Promise.all(writes);
  return raws.length;
}

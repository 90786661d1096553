// What the dashboard's Retries page reads and removes (#18): resque-retry's attempt counters
// `resque-retry:<Class>[:<sha1>]` and their last intermediate failure `failure-<counter>`. Nothing indexes
// these keys (resque-retry keeps no set of them), so SCAN is the only way to find them; it is bounded per
// request (keys found and SCAN calls), and the cursor lets the page continue where it stopped.
import type { RedisClient } from "bun";
import { makeKeys, type Keys } from "./keys";

// The counter names' prefix is the same in every namespace.
const PREFIX = makeKeys("").retryCounterPrefix;

export interface RetryCounter {
  /** The counter key without the namespace. */
  key: string;
  cls: string;
  /** The 40-hex digest of the args, or "" for a key without one. */
  digest: string;
  /** The counter as stored (resque-retry's retry_attempt), or null when it is not an integer string. */
  count: number | null;
  /** Why count is null (the raw value, or the Redis error). */
  problem: string;
  /** Seconds until the counter expires; -1 without an expiry. */
  ttl: number;
  /** The failure-<counter> value, or null. */
  failure: string | null;
}

export interface CounterScan {
  counters: RetryCounter[];
  /** "0" when the scan covered the whole keyspace; else where the next page continues. */
  cursor: string;
}

/** A glob pattern matching `s` literally (a namespace may hold glob characters). */
const globLiteral = (s: string): string => s.replace(/[*?[\]\\]/g, "\\$&");

/** The class and digest of a counter key (without namespace); null when it is not one. */
export function parseCounterKey(key: string): { cls: string; digest: string } | null {
  if (!key.startsWith(PREFIX)) return null;
  const rest = key.slice(PREFIX.length);
  const m = /^(.+):([0-9a-f]{40})$/.exec(rest);
  if (m) return { cls: m[1] as string, digest: m[2] as string };
  return rest ? { cls: rest, digest: "" } : null;
}

/** SCAN from `cursor` until `maxKeys` counters are found, `maxCalls` SCANs were made, or the scan is over. */
export async function scanCounters(c: RedisClient, keys: Keys, cursor: string, maxKeys = 500, maxCalls = 100): Promise<CounterScan> {
  const found = new Set<string>();
  const pattern = `${globLiteral(keys.ns)}${keys.retryCounterPrefix}*`;
  let cur = cursor;
  for (let calls = 0; calls < maxCalls && found.size < maxKeys; calls++) {
    const [next, batch] = (await c.send("SCAN", [cur, "MATCH", pattern, "COUNT", "1000"])) as [string, string[]];
    for (const k of batch) found.add(k.slice(keys.ns.length));
    cur = String(next);
    if (cur === "0") break;
  }
  const names = [...found].filter((k) => parseCounterKey(k) !== null).sort();
  const counters = await Promise.all(names.map((k) => readCounter(c, keys, k)));
  return { counters: counters.filter((x): x is RetryCounter => x !== null), cursor: cur };
}

async function readCounter(c: RedisClient, keys: Keys, key: string): Promise<RetryCounter | null> {
  const { cls, digest } = parseCounterKey(key) as { cls: string; digest: string };
  const full = keys.retryCounter(key);
  const [value, ttl, failure] = await Promise.all([
    c.get(full).then((v) => ({ v, err: "" }), (e: Error) => ({ v: null, err: e.message })),
    c.ttl(full),
    c.get(keys.retryFailure(key)).catch(() => null),
  ]);
  if (value.v === null && !value.err) return null; // gone since the SCAN (a success or a give-up deleted it)
  const count = value.v !== null && /^-?\d+$/.test(value.v) ? Number(value.v) : null;
  const problem = count === null ? (value.err || `not an integer: ${JSON.stringify(value.v).slice(0, 80)}`) : "";
  return { key, cls, digest, count, problem, ttl: Number(ttl), failure };
}

/**
 * Deletes a counter and its failure-<counter> in one DEL; returns how many of the two existed. Safe at any
 * moment: the counter holds no job (the retry itself is a delayed item or a queue entry, left alone), so the
 * only effect is that the next failure of that job counts from its first attempt again (a worker's ack
 * recreates the counter with SETNX -1 + INCR, Ruby's too).
 */
export async function removeCounter(c: RedisClient, keys: Keys, key: string): Promise<number> {
  if (!parseCounterKey(key)) throw new Error(`not a resque-retry counter key: ${key}`);
  return Number(await c.send("DEL", [keys.retryCounter(key), keys.retryFailure(key)]));
}

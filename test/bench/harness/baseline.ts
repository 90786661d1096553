// What this Redis on this machine can do today (issue #15), measured in the same run as the scenarios so that
// figures compare across days: the VM is much faster on some days than on others, and a drain or a pickup
// means little without the floor under it.
//   lpop_per_s        un-pipelined LPOP rate: one connection, each LPOP awaited before the next (what a worker
//                     that pops one job per round trip could reach), the best of 5 bursts of 4,000; the drain
//                     is printed as a multiple of it
//   ping_rtt          PING round trip, and evalsha_rtt, a one-line script (`return redis.call('LPOP', KEYS[1])`)
//                     on an empty list: the floor of a one-hop pickup. Sampled SPACED_MS apart, so that both
//                     sides wake from idle as in a pickup sample; pickups are printed as a multiple of its p50
//   two_hop           RPUSH on one connection -> the keyspace notification on a subscriber -> the same one-line
//                     script on a third connection, answered: the floor of a pickup through notifications
import { RedisClient } from "bun";
import type { BenchRedis } from "./redis";
import { median, percentile, round } from "./stats";
import { epochMs, sleep } from "./util";

const LPOP_ITEMS = 20_000;
const SPACED = 60;
const SPACED_MS = 30;
const ONE_LINE = "return redis.call('LPOP', KEYS[1])";
const KEY = "bench:baseline:list";

export interface Baseline {
  lpop_per_s: number;
  ping_rtt_p50_ms: number;
  evalsha_rtt_p50_ms: number;
  evalsha_rtt_p99_ms: number;
  /** Back to back, without idle gaps: for reference. */
  evalsha_rtt_hot_p50_ms: number;
  two_hop_p50_ms: number;
  two_hop_p99_ms: number;
}

/** The best of 5 bursts of 4,000: a burst that lost the CPU to another process says nothing about Redis. */
async function lpopRate(redis: BenchRedis): Promise<number> {
  const items = new Array<string>(1000).fill('{"class":"Noop","args":[]}');
  for (let i = 0; i < LPOP_ITEMS; i += 1000) await redis.cmd("RPUSH", [KEY, ...items]);
  let best = 0;
  for (let burst = 0; burst < 5; burst++) {
    const t0 = performance.now();
    for (let i = 0; i < LPOP_ITEMS / 5; i++) await redis.cmd("LPOP", [KEY]);
    best = Math.max(best, LPOP_ITEMS / 5 / ((performance.now() - t0) / 1000));
  }
  return best;
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t0 = epochMs();
  await f();
  return epochMs() - t0;
}

/** One notification's two hops: push -> subscriber hears it -> one-line script on another connection. */
async function twoHops(redis: BenchRedis, sha: string): Promise<number[]> {
  const sub = new RedisClient(redis.uri);
  const actor = new RedisClient(redis.uri);
  const out: number[] = [];
  const before = await redis.cmd<string[]>("CONFIG", ["GET", "notify-keyspace-events"]);
  try {
    await Promise.all([sub.connect(), actor.connect()]);
    await Promise.all([sub.send("CLIENT", ["SETNAME", "bench-baseline-sub"]), actor.send("CLIENT", ["SETNAME", "bench-baseline-actor"])]);
    await redis.cmd("CONFIG", ["SET", "notify-keyspace-events", "El"]);
    let heard: (() => void) | null = null;
    await sub.subscribe("__keyevent@0__:rpush", () => heard?.());
    for (let i = 0; i < SPACED; i++) {
      await sleep(SPACED_MS);
      const t0 = epochMs();
      const done = new Promise<void>((resolve) => (heard = () => void actor.send("EVALSHA", [sha, "1", KEY]).then(() => resolve())));
      await redis.cmd("RPUSH", [KEY, "x"]);
      await done;
      out.push(epochMs() - t0);
      heard = null;
    }
  } finally {
    await redis.cmd("CONFIG", ["SET", "notify-keyspace-events", before[1] ?? ""]);
    sub.close();
    actor.close();
  }
  return out;
}

export async function measureBaseline(redis: BenchRedis): Promise<Baseline> {
  await redis.cmd("DEL", [KEY]);
  const lpop = await lpopRate(redis);
  const sha = await redis.cmd<string>("SCRIPT", ["LOAD", ONE_LINE]);
  const hot: number[] = [];
  for (let i = 0; i < 1000; i++) hot.push(await timed(() => redis.cmd("EVALSHA", [sha, "1", KEY])));
  const ping: number[] = [];
  const evalsha: number[] = [];
  for (let i = 0; i < SPACED; i++) {
    await sleep(SPACED_MS);
    ping.push(await timed(() => redis.cmd("PING")));
    await sleep(SPACED_MS);
    evalsha.push(await timed(() => redis.cmd("EVALSHA", [sha, "1", KEY])));
  }
  const hops = (await twoHops(redis, sha)).sort((a, b) => a - b);
  evalsha.sort((a, b) => a - b);
  await redis.cmd("DEL", [KEY]);
  return {
    lpop_per_s: Math.round(lpop),
    ping_rtt_p50_ms: round(median(ping), 3),
    evalsha_rtt_p50_ms: round(percentile(evalsha, 50), 3),
    evalsha_rtt_p99_ms: round(percentile(evalsha, 99), 3),
    evalsha_rtt_hot_p50_ms: round(median(hot), 3),
    two_hop_p50_ms: round(percentile(hops, 50), 3),
    two_hop_p99_ms: round(percentile(hops, 99), 3),
  };
}

/**
 * The baseline multiples a result row gets: a drain's jobs/s over the LPOP rate, a pickup's p50 over the
 * one-line EVALSHA round trip, and for rows with keyspace notifications also over the two-hop floor.
 */
export function relativeFields(r: Record<string, unknown>, b: Baseline | null): Record<string, number> {
  if (!b) return {};
  const out: Record<string, number> = {};
  if (typeof r.jobs_per_s === "number" && String(r.scenario).startsWith("drain")) out.drain_x_lpop = round(r.jobs_per_s / b.lpop_per_s, 2);
  if (typeof r.pickup_p50_ms === "number") {
    out.pickup_x_evalsha_rtt = round(r.pickup_p50_ms / b.evalsha_rtt_p50_ms, 2);
    if (r.notify_keyspace_events) out.pickup_x_two_hop = round(r.pickup_p50_ms / b.two_hop_p50_ms, 2);
  }
  return out;
}

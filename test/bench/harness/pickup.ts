// Pickup latency, shared by the latency and queues scenarios: push one "Stamp" job and wait for the
// difference the job writes back (its clock on arrival minus the enqueue time, both epoch ms), one job at a
// time with --gap-ms of idleness before each, so that every sample measures a worker waking from idle.
import type { Harness } from "./harness";
import { NS } from "./options";
import type { BenchRedis } from "./redis";
import { percentile, round } from "./stats";
import { epochMs, sleep } from "./util";
import { tail, type Worker } from "./workers";

export interface Stamped {
  pickup: number;
  roundTrip: number;
}

/** One Stamp job on `queue`; null when no result reached `resultKey` within timeoutS. */
export async function stamp(redis: BenchRedis, queue: string, resultKey: string, timeoutS: number): Promise<Stamped | null> {
  const sent = epochMs();
  await redis.cmd("RPUSH", [`${NS}queue:${queue}`, JSON.stringify({ class: "Stamp", args: [sent, resultKey] })]);
  const got = await redis.cmd<[string, string] | null>("BLPOP", [resultKey, String(timeoutS)]);
  const roundTrip = epochMs() - sent;
  if (!got) return null;
  return { pickup: Number(got[1]), roundTrip };
}

export interface StampPlan {
  /** Where sample i's result goes (a fixed key, or one per sample so that a late result cannot count twice). */
  resultKey: (i: number) => string;
  timeoutS: number;
  /** Each gap is lengthened by a random part of this (a polled queue's pickup then samples its whole cycle). */
  jitterMs?: number;
  /** Samples to take (default --samples). */
  samples?: number;
}

/** Up to `tries` Stamp jobs until one runs; throws (with the worker's output) when none did. */
export async function warmUp(h: Harness, w: Worker, label: string, queue: string, tries: number, plan: StampPlan): Promise<void> {
  let warm = null;
  for (let i = 0; i < tries && !warm && w.exitedAt === null; i++) warm = await stamp(h.redis, queue, plan.resultKey(i), plan.timeoutS);
  if (!warm) throw new Error(`${label}: the worker ran no Stamp job (${w.exitedAt !== null ? `it exited with status ${w.code}` : `${tries * plan.timeoutS} s`}):\n${tail(w)}`);
}

export interface PickupSamples {
  /** Ascending. */
  pickups: number[];
  /** Ascending. */
  trips: number[];
  missed: number;
}

/**
 * --samples pickups on `queue` (or on queue(i) for sample i), --gap-ms apart; stops early after 3 missed ones or
 * when the worker exits.
 */
export async function samplePickups(h: Harness, w: Worker, queue: string | ((i: number) => string), plan: StampPlan): Promise<PickupSamples> {
  const pickups: number[] = [];
  const trips: number[] = [];
  let missed = 0;
  const n = plan.samples ?? h.opts.samples;
  for (let i = 0; i < n && w.exitedAt === null; i++) {
    await sleep(h.opts.gapMs + Math.random() * (plan.jitterMs ?? 0));
    const s = await stamp(h.redis, typeof queue === "string" ? queue : queue(i), plan.resultKey(i), plan.timeoutS);
    if (s) pickups.push(s.pickup), trips.push(s.roundTrip);
    else if (++missed >= 3) break;
  }
  pickups.sort((a, b) => a - b);
  trips.sort((a, b) => a - b);
  return { pickups, trips, missed };
}

/** The JSON fields of a pickup row, from `jobs` to `round_trip_p99_ms`. */
export function pickupFields(s: PickupSamples, gapMs: number): Record<string, number> {
  const { pickups, trips } = s;
  return {
    jobs: pickups.length,
    missed: s.missed,
    gap_ms: gapMs,
    pickup_p50_ms: round(percentile(pickups, 50), 3),
    pickup_p90_ms: round(percentile(pickups, 90), 3),
    pickup_p99_ms: round(percentile(pickups, 99), 3),
    pickup_min_ms: round(pickups[0] ?? NaN, 3),
    pickup_max_ms: round(pickups[pickups.length - 1] ?? NaN, 3),
    round_trip_p50_ms: round(percentile(trips, 50), 3),
    round_trip_p99_ms: round(percentile(trips, 99), 3),
  };
}

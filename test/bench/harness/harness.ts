// The harness object every scenario receives instead of module-level globals: the options, the private
// Redis (server + the harness's client and its own-command counter), the live worker processes and the
// results. The entry (bench.ts) creates one per run and closes it on the way out, whatever happened.
import type { Options } from "./options";
import { BenchRedis } from "./redis";
import type { Results } from "./results";
import { Workers } from "./workers";

export interface Harness {
  readonly opts: Options;
  readonly redis: BenchRedis;
  readonly workers: Workers;
  readonly results: Results;
}

export async function openHarness(opts: Options, results: Results): Promise<Harness> {
  const redis = await BenchRedis.start(opts.replicas);
  return { opts, redis, workers: new Workers(opts, redis.port), results };
}

/** Kills every worker, then the client and the redis-server; safe to call more than once. */
export async function closeHarness(h: Harness): Promise<void> {
  h.workers.killAll();
  await h.redis.close();
}

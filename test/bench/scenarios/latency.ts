// Scenario "latency" (issue #5): an idle worker on lat1,lat2,lat3 (--concurrency=25). Pickup latency of one
// "Stamp" job at a time, --gap-ms apart, on the first and the last queue (rows pickup:lat1, pickup:lat3);
// then the Redis commands the idle worker causes per second over --idle-seconds (row idle).
import type { Harness } from "../harness/harness";
import { idleFields, idleTraffic } from "../harness/idle";
import { NS } from "../harness/options";
import { pickupFields, samplePickups, stamp, warmUp, type StampPlan } from "../harness/pickup";
import { workerName } from "../harness/results";
import { log, sleep } from "../harness/util";
import { stopWorker, type Worker } from "../harness/workers";

const QUEUES = ["lat1", "lat2", "lat3"];
/** One result list for every Stamp job, each waited for up to 5 s. */
const PLAN: StampPlan = { resultKey: () => `${NS}bench:stamps`, timeoutS: 5 };

async function measurePickups(h: Harness, w: Worker, q: string): Promise<void> {
  log(`latency: ${h.opts.samples} pickups on ${q}, ${h.opts.gapMs} ms apart`);
  const s = await samplePickups(h, w, q, PLAN);
  h.results.emit({ scenario: `pickup:${q}`, worker: workerName(h.opts), queues: QUEUES.join(","), concurrency: 25, ...pickupFields(s, h.opts.gapMs) });
}

/** Idle traffic: nothing queued, nothing running; count what the worker sends for idleSeconds. */
async function measureIdle(h: Harness): Promise<void> {
  log(`idle: counting Redis commands for ${h.opts.idleSeconds} s of idleness`);
  const t = await idleTraffic(h, h.opts.idleSeconds);
  h.results.emit({
    scenario: "idle",
    worker: workerName(h.opts),
    queues: QUEUES.join(","),
    concurrency: 25,
    ...idleFields(t),
    note: "idle_cmds_per_s = total_commands_processed delta (script-internal commands included); idle_client_cmds_per_s = commands the worker sent (MONITOR)",
  });
}

export async function latency(h: Harness): Promise<void> {
  const { redis, opts } = h;
  await redis.cmd("FLUSHALL");
  await redis.cmd("SADD", [`${NS}queues`, ...QUEUES]);
  const w = h.workers.spawn({ queues: QUEUES, concurrency: 25 }, "latency");
  try {
    log(`latency: waiting for the worker to pick up a first job`);
    await warmUp(h, w, "latency", "lat1", 6, PLAN);
    for (const q of QUEUES) for (let i = 0; i < 3; i++) await stamp(redis, q, PLAN.resultKey(i), PLAN.timeoutS), await sleep(opts.gapMs);
    for (const q of ["lat1", "lat3"]) await measurePickups(h, w, q);
    await measureIdle(h);
  } finally {
    await stopWorker(w);
  }
}

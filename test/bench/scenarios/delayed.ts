// Scenario "delayed" (issue #17): delayed jobs in resque-scheduler's keys.
//   delayed:lateness  an idle worker on "dly" (default --interval=5, promoter on); Stamp items written as Ruby's
//                     delayed_push writes them, 5 per second over --samples/5 consecutive seconds, each at least
//                     --interval + 1 s ahead. The job stamps its clock on arrival minus the START of its due
//                     second: the lateness p50/p99 after the due second (target: in the queue by T + 1 s).
//   delayed:promote   100,000 items due at once in 20 past seconds, one worker (not serving their queue)
//                     promotes them: items/s from the first to the last one in the queue.
import type { Harness } from "../harness/harness";
import { NS } from "../harness/options";
import { workerName } from "../harness/results";
import { percentile, round } from "../harness/stats";
import { epochMs, log, sleep } from "../harness/util";
import { stopWorker } from "../harness/workers";

async function rubyPush(h: Harness, ts: number, items: string[]): Promise<void> {
  await h.redis.cmd("RPUSH", [`${NS}delayed:${ts}`, ...items]);
  for (const item of items) await h.redis.cmd("SADD", [`${NS}timestamps:${item}`, `delayed:${ts}`]);
  await h.redis.cmd("ZADD", [`${NS}delayed_queue_schedule`, String(ts), String(ts)]);
}

async function lateness(h: Harness): Promise<void> {
  const interval = 5;
  const perSecond = 5;
  const seconds = Math.max(2, Math.ceil(h.opts.samples / perSecond));
  const resultKey = `${NS}bench:late`;
  await h.redis.cmd("FLUSHALL");
  const w = h.workers.spawn({ queues: ["dly"], concurrency: 25, interval }, "delayed");
  try {
    const first = Math.floor(Date.now() / 1000) + interval + 2;
    log(`delayed: ${seconds * perSecond} Stamp items due over ${seconds} s from ${interval + 2} s ahead`);
    for (let s = 0; s < seconds; s++) {
      const ts = first + s;
      await rubyPush(h, ts, Array.from({ length: perSecond }, (_, i) => JSON.stringify({ class: "Stamp", args: [ts * 1000, resultKey], queue: "dly", n: i })));
    }
    const total = seconds * perSecond;
    const deadline = Date.now() + (interval + 4 + seconds) * 1000 + 10_000;
    while ((await h.redis.cmd<number>("LLEN", [resultKey])) < total && Date.now() < deadline && w.exitedAt === null) await sleep(200);
    const late = (await h.redis.cmd<string[]>("LRANGE", [resultKey, "0", "-1"])).map(Number).sort((a, b) => a - b);
    h.results.emit({
      scenario: "delayed:lateness", worker: workerName(h.opts), jobs: late.length, missed: total - late.length, interval_s: interval,
      pickup_p50_ms: round(percentile(late, 50), 3), pickup_p99_ms: round(percentile(late, 99), 3), max_ms: round(late[late.length - 1] ?? NaN, 1),
      note: "pickup_* = job start minus the start of its due second (promotion + pickup); items written >= --interval ahead",
    });
  } finally {
    await stopWorker(w);
  }
}

async function throughput(h: Harness): Promise<void> {
  const N = h.opts.quick ? 20_000 : 100_000;
  const buckets = 20;
  await h.redis.cmd("FLUSHALL");
  const past = Math.floor(Date.now() / 1000) - 100;
  log(`delayed: writing ${N} items due at once`);
  for (let b = 0; b < buckets; b++) {
    const items = Array.from({ length: N / buckets }, (_, i) => `{"class":"Noop","args":[${b},${i}],"queue":"promoted"}`);
    for (let from = 0; from < items.length; from += 1000) await h.redis.cmd("RPUSH", [`${NS}delayed:${past + b}`, ...items.slice(from, from + 1000)]);
    await h.redis.cmd("ZADD", [`${NS}delayed_queue_schedule`, String(past + b), String(past + b)]);
  }
  const before = await h.redis.snapshot();
  const w = h.workers.spawn({ queues: ["idle"], concurrency: 1 }, "delayed:promote");
  try {
    let t0 = 0;
    let t1 = 0;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline && w.exitedAt === null) {
      const n = await h.redis.cmd<number>("LLEN", [`${NS}queue:promoted`]);
      if (n > 0 && !t0) t0 = epochMs();
      if (n === N) {
        t1 = epochMs();
        break;
      }
      await sleep(5);
    }
    const after = await h.redis.snapshot();
    const seconds = (t1 - t0) / 1000;
    h.results.emit({
      scenario: "delayed:promote", worker: workerName(h.opts), jobs: N, seconds: round(seconds, 3), jobs_per_s: t1 ? Math.round(N / seconds) : NaN,
      redis_cpu_us_per_job: round(((after.cpuS - before.cpuS) * 1e6) / N, 2),
      note: "jobs_per_s = due items promoted per second, first to last in the queue (first batch's wait included as a 5 ms poll)",
    });
  } finally {
    await stopWorker(w);
  }
}

export async function delayed(h: Harness): Promise<void> {
  await lateness(h);
  await throughput(h);
}

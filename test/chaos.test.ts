// Issue #4's chaos test: 5,000 jobs; the worker SIGKILLed ten times at random moments and restarted; its
// Redis (AOF, fsync always) restarted twice. Every job must run at least once, nothing may stay in flight or
// in the failed list, no dead worker may stay registered; duplicate runs are reported and bounded.
import { afterAll, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { startRedis, waitFor, type PrivateRedis } from "./helpers/redis";
import { spawnWorker, type WorkerProcess } from "./helpers/worker-process";

const JOBS = 5000;
const KILLS = 10;
const CONCURRENCY = 10;
const NS = "chaos:";
let redis: PrivateRedis | undefined;
let worker: WorkerProcess | undefined;
afterAll(async () => {
  worker?.signal("SIGKILL");
  await redis?.stop();
});

const between = (lo: number, hi: number) => lo + Math.random() * (hi - lo);

test("5,000 jobs through 10 SIGKILLs and 2 Redis restarts: all run, none lost, none stuck", async () => {
  redis = await startRedis({ appendonly: true });
  const r = redis;
  let c = new RedisClient(r.url);
  for (let i = 0; i < JOBS; i += 500) {
    const batch = Array.from({ length: Math.min(500, JOBS - i) }, (_, j) => `{"class":"Count","args":["job-${i + j}",${Math.floor(between(5, 25))}]}`);
    await c.send("RPUSH", [`${NS}queue:chaos`, ...batch]);
  }
  await c.sadd(`${NS}queues`, "chaos");
  const args = [`--uri=${r.url}`, `--namespace=${NS}`, "--queues=chaos", `--concurrency=${CONCURRENCY}`, "--command-timeout=1", "--heartbeat-interval=0.5", "--shutdown-timeout=1"];
  // Like systemd with Restart=always: a worker that dies (killed, or Redis down at its start) is started again.
  let supervising = true;
  const launch = (): WorkerProcess => {
    const w = spawnWorker(args);
    void w.exited.then(() => {
      if (supervising && worker === w) worker = launch();
    });
    return w;
  };
  worker = launch();
  const ran = async () => Number(await c.hlen(`${NS}test:runs`).catch(() => 0));
  let redisRestarts = 0;
  for (let kill = 1; kill <= KILLS; kill++) {
    await Bun.sleep(between(200, 900));
    worker?.signal("SIGKILL");
    if (kill === 3 || kill === 7) {
      c.close();
      await r.kill();
      await Bun.sleep(between(300, 1500));
      await r.restart();
      c = new RedisClient(r.url);
      redisRestarts++;
    }
  }
  await waitFor(async () => (await ran()) === JOBS && (await c.llen(`${NS}queue:chaos`)) === 0, 120_000, "every job to run");
  const inflight = await waitFor(async () => {
    const ids = await c.smembers(`${NS}workers`);
    const states = await Promise.all(ids.map((id) => c.get(`${NS}worker:${id}`)));
    return states.every((v) => v === null) && (await c.keys(`${NS}worker:*`)).every((k) => k.endsWith(":started")) ? "empty" : null;
  }, 10_000, "no job in flight");
  supervising = false;
  worker?.signal("SIGTERM");
  expect(await worker?.exited).toBe(0);

  const runs = Object.values((await c.hgetall(`${NS}test:runs`)) as Record<string, string>).map(Number);
  const duplicates = runs.reduce((n, x) => n + x - 1, 0);
  console.log(`chaos: ${JOBS} jobs, ${KILLS} SIGKILLs, ${redisRestarts} Redis restarts, ${duplicates} duplicate runs (bound ${KILLS * CONCURRENCY})`);
  expect(runs.length).toBe(JOBS);
  expect(Math.min(...runs)).toBeGreaterThanOrEqual(1);
  expect(duplicates).toBeLessThanOrEqual(KILLS * CONCURRENCY);
  expect(inflight).toBe("empty");
  expect(await c.keys(`${NS}bunworker:landing:*`)).toEqual([]);
  expect(await c.llen(`${NS}failed`)).toBe(0);
  expect(await c.scard(`${NS}workers`)).toBe(0);
  expect(await c.hlen(`${NS}bunworker:processes`)).toBe(0);
  expect(Number(await c.get(`${NS}stat:processed`))).toBeGreaterThanOrEqual(JOBS);
  c.close();
}, 240_000);

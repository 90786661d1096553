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
// Workers this file has SIGKILLed; Subprocess.killed turns true only once the process is gone.
const killed = new WeakSet<WorkerProcess>();
function killWorker(w: WorkerProcess | undefined): void {
  if (!w) return;
  killed.add(w);
  w.signal("SIGKILL");
}
/** The worker that replaced the last killed one, once it has started (its restart is asynchronous). */
const liveWorker = () =>
  waitFor(() => (worker && !killed.has(worker) && worker.proc.exitCode === null && /started/.test(worker.output()) ? worker : null), 30_000, "a live worker");

/** Like systemd with Restart=always: a worker that dies (killed, or Redis down at its start) is started again. */
function restartAlways(args: string[]): { stop(): Promise<number> } {
  let supervising = true;
  const launch = (): WorkerProcess => {
    const w = spawnWorker(args);
    void w.exited.then(() => {
      if (supervising && worker === w) worker = launch();
    });
    return w;
  };
  worker = launch();
  return {
    /** TERM the live worker (never one just SIGKILLed) and stop restarting; resolves to its exit status. */
    async stop() {
      const last = await liveWorker();
      supervising = false;
      last.signal("SIGTERM");
      return last.exited;
    },
  };
}

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
  const workers = restartAlways(args);
  const ran = async () => Number(await c.hlen(`${NS}test:runs`).catch(() => 0));
  let redisRestarts = 0;
  for (let kill = 1; kill <= KILLS; kill++) {
    await Bun.sleep(between(200, 900));
    killWorker(worker);
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
  expect(await workers.stop()).toBe(0);

  const runs = Object.values((await c.hgetall(`${NS}test:runs`)) as Record<string, string>).map(Number);
  const duplicates = runs.reduce((n, x) => n + x - 1, 0);
  console.log(`chaos: ${JOBS} jobs, ${KILLS} SIGKILLs, ${redisRestarts} Redis restarts, ${duplicates} duplicate runs (bound ${KILLS * CONCURRENCY})`);
  expect(runs.length).toBe(JOBS);
  expect(Math.min(...runs)).toBeGreaterThanOrEqual(1);
  expect(duplicates).toBeLessThanOrEqual(KILLS * CONCURRENCY);
  expect(inflight).toBe("empty");
  expect(await c.keys(`${NS}bunworker:*`)).toEqual([]); // every process released, the last one by its own TERM
  expect(await c.llen(`${NS}failed`)).toBe(0);
  expect(await c.scard(`${NS}workers`)).toBe(0);
  expect(await c.hlen(`${NS}bunworker:processes`)).toBe(0);
  expect(Number(await c.get(`${NS}stat:processed`))).toBeGreaterThanOrEqual(JOBS);
  c.close();
  await r.stop();
  redis = undefined;
}, 240_000);

// The same guarantees when jobs trickle in, so the workers are mostly idle: jobs are then taken by the blocking
// waits and started before their record is written (the pickup fast path), while workers are killed.
test("jobs trickling in through 6 SIGKILLs and a Redis restart: the blocking fast path loses nothing either", async () => {
  const total = 1500;
  const kills = 6;
  const r = await startRedis({ appendonly: true });
  redis = r;
  const ns = "trickle:";
  const args = [`--uri=${r.url}`, `--namespace=${ns}`, "--queues=t1,t2", `--concurrency=${CONCURRENCY}`, "--command-timeout=1", "--heartbeat-interval=0.5", "--shutdown-timeout=1"];
  const workers = restartAlways(args);
  // Each job is pushed exactly once, whatever the connection does (a push whose reply is lost is retried).
  const pusher = new RedisClient(r.url);
  const pushOnce = "if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then redis.call('RPUSH', KEYS[1], ARGV[2]) end return 1";
  let pushed = 0;
  const pushing = (async () => {
    while (pushed < total) {
      const burst = Math.min(total - pushed, 1 + Math.floor(Math.random() * 5));
      for (let j = 0; j < burst; j++, pushed++) {
        const queue = pushed % 2 ? "t1" : "t2";
        const job = `{"class":"Count","args":["job-${pushed}",${Math.floor(between(0, 5))}]}`;
        for (;;) {
          try {
            await pusher.send("EVAL", [pushOnce, "2", `${ns}queue:${queue}`, `${ns}pushed`, `job-${pushed}`, job]);
            break;
          } catch {
            await Bun.sleep(50);
          }
        }
      }
      await Bun.sleep(between(1, 8));
    }
  })();
  for (let kill = 1; kill <= kills; kill++) {
    await Bun.sleep(between(200, 700));
    killWorker(worker);
    if (kill === 3) {
      await r.kill();
      await Bun.sleep(between(300, 1000));
      await r.restart();
    }
  }
  await pushing;
  const c = new RedisClient(r.url);
  await waitFor(async () => Number(await c.hlen(`${ns}test:runs`)) === total, 60_000, "every trickled job to run");
  expect(await workers.stop()).toBe(0);
  const runs = Object.values((await c.hgetall(`${ns}test:runs`)) as Record<string, string>).map(Number);
  const duplicates = runs.reduce((n, x) => n + x - 1, 0);
  console.log(`trickle: ${total} jobs, ${kills} SIGKILLs, 1 Redis restart, ${duplicates} duplicate runs (bound ${kills * CONCURRENCY})`);
  expect(runs.length).toBe(total);
  expect(duplicates).toBeLessThanOrEqual(kills * CONCURRENCY);
  expect(await c.keys(`${ns}bunworker:*`)).toEqual([]); // every process released, the last one by its own TERM
  expect((await c.keys(`${ns}worker:*`)).filter((k) => !k.endsWith(":started"))).toEqual([]);
  expect(await c.llen(`${ns}failed`)).toBe(0);
  expect(await c.scard(`${ns}workers`)).toBe(0);
  pusher.close();
  c.close();
  await r.stop();
  redis = undefined;
}, 180_000);

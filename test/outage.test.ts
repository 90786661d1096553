// Issue #4: Redis outages of any length, a restart, a frozen server. The worker logs one clear warning, keeps
// trying with backoff, resumes by itself and loses nothing. Each test runs its own redis-server.
import { afterEach, describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { startRedis, waitFor, type PrivateRedis } from "./helpers/redis";
import { spawnWorker, withOutput, type WorkerProcess } from "./helpers/worker-process";

let redis: PrivateRedis | undefined;
let worker: WorkerProcess | undefined;
afterEach(async () => {
  worker?.signal("SIGKILL");
  await worker?.exited;
  await redis?.stop();
  worker = redis = undefined;
});

const NS = "out:";
function start(r: PrivateRedis, concurrency = 2): WorkerProcess {
  return spawnWorker([`--uri=${r.url}`, `--namespace=${NS}`, "--queues=o", `--concurrency=${concurrency}`, "--command-timeout=1", "--heartbeat-interval=0.5"]);
}
const fresh = (r: PrivateRedis) => new RedisClient(r.url, { autoReconnect: true });
const count = (output: string, what: RegExp) => output.split("\n").filter((l) => what.test(l)).length;

describe("Redis outages", () => {
  test("a frozen server (SIGSTOP): the finished job is acknowledged after SIGCONT and work goes on", async () => {
    redis = await startRedis();
    worker = start(redis);
    await worker.waitForOutput(/started/);
    let c = fresh(redis);
    await c.rpush(`${NS}queue:o`, '{"class":"Slow","args":[800,"spans-freeze"]}');
    await waitFor(async () => (await c.llen(`${NS}test:started`)) === 1, 5000, "job start");
    c.close();
    redis.freeze();
    await worker.waitForOutput(/unavailable/, 10_000);
    await Bun.sleep(2500); // the outage itself: longer than the command timeout, with the job finishing inside it
    redis.thaw();
    c = fresh(redis);
    await withOutput(waitFor(async () => (await c.get(`${NS}stat:processed`)) === "1", 15_000, "the ack after the freeze"), worker);
    await c.rpush(`${NS}queue:o`, '{"class":"Record","args":["after-thaw"]}');
    await withOutput(waitFor(async () => (await c.lrange(`${NS}test:ran`, 0, -1)).includes('["after-thaw"]'), 15_000, "a job after the thaw"), worker);
    expect(await c.lrange(`${NS}test:ran`, 0, -1)).toEqual(["spans-freeze", '["after-thaw"]']);
    await worker.waitForOutput(/is back after/, 10_000);
    expect(count(worker.output(), /unavailable/)).toBe(1);
    worker.signal("SIGTERM");
    expect(await worker.exited).toBe(0);
    expect(await c.scard(`${NS}workers`)).toBe(0);
    c.close();
  }, 60_000);

  test("a restart after 35 s down (longer than Bun's client keeps trying): resumes by itself, nothing lost", async () => {
    redis = await startRedis({ appendonly: true });
    // One slot: the second job stays in its queue through the outage. With a free slot it could start at once,
    // and a write it made as Redis went down failed the job for good (seen once in CI: "queued" never ran).
    worker = start(redis, 1);
    await worker.waitForOutput(/started/);
    let c = fresh(redis);
    await c.rpush(`${NS}queue:o`, '{"class":"Slow","args":[1500,"interrupted"]}', '{"class":"Record","args":["queued"]}');
    await waitFor(async () => (await c.llen(`${NS}test:started`)) === 1, 5000, "job start");
    c.close();
    await redis.kill();
    await worker.waitForOutput(/unavailable/, 10_000);
    await Bun.sleep(35_000);
    await redis.restart();
    c = fresh(redis);
    await withOutput(waitFor(async () => (await c.lrange(`${NS}test:ran`, 0, -1)).includes('["queued"]'), 20_000, "the queued job after the restart"), worker);
    await withOutput(waitFor(async () => (await c.lrange(`${NS}test:ran`, 0, -1)).includes("interrupted"), 20_000, "the interrupted job's outcome"), worker);
    await withOutput(waitFor(async () => (await c.get(`${NS}stat:processed`)) === "2", 20_000, "both acknowledged"), worker);
    expect(await c.llen(`${NS}queue:o`)).toBe(0);
    expect((await c.keys(`${NS}worker:*`)).filter((k) => !k.endsWith(":started"))).toEqual([]);
    await worker.waitForOutput(/is back after/, 10_000);
    worker.signal("SIGTERM");
    expect(await worker.exited).toBe(0);
    c.close();
  }, 90_000);
});

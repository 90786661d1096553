// Issue #17 point 4/7: a worker SIGKILLed at the ack of a failed attempt that retries, with real processes and
// a private Redis (CLIENT PAUSE holds the ack script back):
// (a) before the script ran: the attempt's job is still in its worker state, so another worker's reaper hands it
//     back; the attempt was not counted (the counter moves only in the ack), and the job is retried once;
// (b) just after the script ran: the delayed retry and the counter are written and the state is gone, so
//     nothing is handed back: the job runs again once, through the retry.
// Either way: the job is neither lost nor retried twice, and finishes after its second attempt.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { isolatePrivate, waitFor, type PrivateRedis } from "./helpers/redis";
import { startedWorker, terminateCleanly } from "./helpers/worker-process";

let redis: PrivateRedis;
let c: RedisClient;
let ns: string;
isolatePrivate((t) => ({ redis, c, ns } = t));

const args = (extra: string[] = []) => [
  `--uri=${redis.url}`, `--namespace=${ns}`, "--queues=rk", "--concurrency=1", "--interval=0.5",
  "--heartbeat-interval=0.25", "--dead-after=1", "--command-timeout=1", "--shutdown-timeout=1", ...extra,
];
const started = (extra: string[] = []) => startedWorker(args(extra));
const term = terminateCleanly;
const attempts = () => c.lrange(`${ns}test:attempts`, 0, -1);
const counterKey = () => `${ns}resque-retry:RetryOnce:${new Bun.CryptoHasher("sha1").update("t-400").digest("hex")}`;
const states = async () => (await c.keys(`${ns}worker:*`)).filter((k) => !k.endsWith(":started"));
const delayedItems = async () => {
  let n = 0;
  for (const ts of (await c.send("ZRANGE", [`${ns}delayed_queue_schedule`, "0", "-1"])) as string[]) n += Number(await c.llen(`${ns}delayed:${ts}`));
  return n;
};

/** Finishes the job with a second worker and checks it ran exactly `expected` attempts, ending in success. */
async function finish(expected: string[]): Promise<void> {
  const b = await started();
  await waitFor(async () => (await attempts()).length === expected.length && (await c.exists(counterKey())) === false, 20_000, "the retry's successful run");
  // Nothing left to run: no delayed item, no queued copy, no state; a little longer shows no extra run.
  await Bun.sleep(1500);
  expect(await attempts()).toEqual(expected);
  expect(await delayedItems()).toBe(0);
  expect(await c.llen(`${ns}queue:rk`)).toBe(0);
  expect(await c.llen(`${ns}failed`)).toBe(0);
  await term(b);
  expect(await states()).toEqual([]);
}

test("(a) killed before the retry ack's script: the job is handed back, retried once, and finishes", async () => {
  const a = await started(["--no-promote"]);
  await c.rpush(`${ns}queue:rk`, '{"class":"RetryOnce","args":["t",400]}');
  await waitFor(async () => (await attempts()).length === 1, 10_000, "the first attempt started");
  // Writes (and so every script) wait while the job fails and its lane sends the ack; the worker dies meanwhile.
  await c.send("CLIENT", ["PAUSE", "5000", "WRITE"]);
  // The job has failed (its warning is logged just before its ack is queued); the ack script cannot run now.
  await waitFor(() => /first attempt of t/.test(a.output()), 5000, "the first attempt failed");
  await Bun.sleep(100);
  a.signal("SIGKILL");
  await a.exited;
  await c.send("CLIENT", ["UNPAUSE"]);
  // The ack never ran: the state still holds the job, and no retry or counter was written.
  expect(await states()).toHaveLength(1);
  expect(await delayedItems()).toBe(0);
  expect(await c.exists(counterKey())).toBe(false);
  // Handed back by the reaper, the first attempt runs again (attempt 1: the killed one was not counted).
  await finish(["t:1", "t:1", "t:2"]);
});

test("(b) killed just after the retry ack's script: nothing handed back, the delayed retry runs once", async () => {
  const a = await started(["--no-promote"]);
  await c.rpush(`${ns}queue:rk`, '{"class":"RetryOnce","args":["t",400]}');
  await waitFor(async () => (await c.get(counterKey())) === "0", 10_000, "the retry ack applied");
  a.signal("SIGKILL");
  await a.exited;
  expect(await states()).toEqual([]);
  expect(await delayedItems()).toBe(1);
  await finish(["t:1", "t:2"]);
});

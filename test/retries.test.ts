// Issue #17 point 4: retries with resque-retry's keys and semantics, run by a real worker against real Redis.
// Fixtures are the reference's observed Ruby bytes (resque-scheduler-and-retry.md sections 5.1-5.3).
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { MiddlewareStack } from "../src/middleware";
import { Registry } from "../src/registry";
import type { RetryPolicy } from "../src/retry-policy";
import { defineJob } from "../src/typed-job";
import { isolate, waitFor } from "./helpers/redis";
import { startWorker, type InProcessWorker } from "./helpers/in-process";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

class TimeoutErr extends Error {
  override name = "TimeoutErr";
}
class SlowTimeoutErr extends TimeoutErr {}

// Observed (reference 5.1, 5.2): args [42,"x",[1,[2]],{"h"=>1},nil] on queue retryq.
const RUBY_ARGS = '[42,"x",[1,[2]],{"h":1},null]';
const RUBY_KEY = "resque-retry:RetryJob:0e530519eee6eb2a16c6c1999c735708dd963c0f";
const RUBY_ITEM = '{"class":"RetryJob","args":[42,"x",[1,[2]],{"h":1},null],"queue":"retryq"}';

function worker(registry: Registry, queue: string, extra: Record<string, unknown> = {}): InProcessWorker {
  return startWorker(registry, { namespace: ns, queues: [queue], concurrency: 1, interval: 0.5, ...extra });
}
async function stop(w: InProcessWorker): Promise<void> {
  w.launcher.stop();
  await w.done;
}
const stat = async (name: string) => Number((await c.get(`${ns}stat:${name}`)) ?? 0);

test("a failed attempt writes resque-retry's delayed item, counter and failure key with Ruby's observed bytes, and nothing in failed", async () => {
  const registry = new Registry();
  let runs = 0;
  registry.register("RetryJob", () => {
    runs++;
    throw new Error("boom");
  }, { retry: { limit: 2, delays: [5] } });
  const w = worker(registry, "retryq", { promote: false });
  const before = Math.floor(Date.now() / 1000);
  await c.send("RPUSH", [`${ns}queue:retryq`, `{"class":"RetryJob","args":${RUBY_ARGS}}`]);
  await waitFor(async () => (await c.get(`${ns}${RUBY_KEY}`)) === "0", 5000, "the counter after the first attempt");
  const [member] = (await c.send("ZRANGE", [`${ns}delayed_queue_schedule`, "0", "-1"])) as string[];
  const ts = Number(member);
  expect(ts).toBeGreaterThanOrEqual(before + 5);
  expect(ts).toBeLessThanOrEqual(before + 7);
  expect(await c.lrange(`${ns}delayed:${ts}`, 0, -1)).toEqual([RUBY_ITEM]);
  expect(await c.smembers(`${ns}timestamps:${RUBY_ITEM}`)).toEqual([`delayed:${ts}`]);
  // The intermediate failure lives where MultipleWithRetrySuppression puts it: failure-<key>, TTL 2 x delay.
  const entry = JSON.parse((await c.get(`${ns}failure-${RUBY_KEY}`)) as string) as Record<string, unknown>;
  expect(Object.keys(entry)).toEqual(["failed_at", "payload", "exception", "error", "backtrace", "worker", "queue"]);
  expect(entry.failed_at).toMatch(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d$/);
  expect(entry).toMatchObject({ payload: { class: "RetryJob", args: [42, "x", [1, [2]], { h: 1 }, null] }, exception: "Error", error: "boom", queue: "retryq" });
  const ttl = Number(await c.ttl(`${ns}failure-${RUBY_KEY}`));
  expect(ttl).toBeGreaterThan(7);
  expect(ttl).toBeLessThanOrEqual(10);
  // Counted as Resque counts a failed job; its worker state is gone; only the last failure reaches `failed`.
  expect(await c.llen(`${ns}failed`)).toBe(0);
  expect([await stat("processed"), await stat("failed")]).toEqual([1, 1]);
  expect((await c.keys(`${ns}worker:*`)).filter((k) => !k.endsWith(":started"))).toEqual([]);
  expect(runs).toBe(1);
  await stop(w);
});

test("a job failing twice then succeeding runs 3 times, one delayed item at a time; ctx.attempt and middleware see 1, 2, 3; counter expiry", async () => {
  const registry = new Registry();
  const seen: { attempt: number; counter: string | null; ttl: number }[] = [];
  const mwSeen: number[] = [];
  const counterKey = `${ns}resque-retry:Flaky:${new Bun.CryptoHasher("sha1").update("a-7").digest("hex")}`;
  registry.register("Flaky", async function (this: { attempt: number }) {
    seen.push({ attempt: this.attempt, counter: await c.get(counterKey), ttl: Number(await c.ttl(counterKey)) });
    if (seen.length < 3) throw new TimeoutErr("not yet");
  }, { retry: { limit: 3, delays: [1], expireKeyAfter: 100 } });
  const middleware = new MiddlewareStack();
  middleware.use((ctx, next) => {
    mwSeen.push(ctx.attempt);
    return next();
  });
  const w = startWorker(registry, { namespace: ns, queues: ["fq"], concurrency: 2, interval: 0.5 }, { middleware });
  let most = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      // Both counts in one atomic step: read one after the other, a promotion between them counted the item twice.
      const n = Number(await c.send("EVAL", ["return redis.call('ZCARD', KEYS[1]) + redis.call('LLEN', KEYS[2])", "2", `${ns}delayed_queue_schedule`, `${ns}queue:fq`]));
      const buckets = (await c.keys(`${ns}delayed:*`)).length;
      most = Math.max(most, n, buckets);
      await Bun.sleep(20);
    }
  })();
  await c.send("RPUSH", [`${ns}queue:fq`, '{"class":"Flaky","args":["a",7]}']);
  await waitFor(async () => seen.length === 3 && (await c.exists(counterKey)) === false, 15_000, "the third run and the counter's DEL");
  sampling = false;
  await sampler;
  expect(seen.map((s) => s.attempt)).toEqual([1, 2, 3]);
  expect(mwSeen).toEqual([1, 2, 3]);
  expect(seen.map((s) => s.counter)).toEqual([null, "0", "1"]);
  // expire_retry_key_after 100 with delay 1: EXPIRE 101 at each retry.
  expect(seen[1]?.ttl).toBeGreaterThan(95);
  expect(seen[1]?.ttl).toBeLessThanOrEqual(101);
  expect(most).toBe(1);
  expect(await c.llen(`${ns}failed`)).toBe(0);
  expect([await stat("processed"), await stat("failed")]).toEqual([3, 2]);
  expect(await c.send("ZCARD", [`${ns}delayed_queue_schedule`])).toBe(0);
  await stop(w);
  expect(seen).toHaveLength(3);
});

test("limit reached: one failure entry with the attempt count, the counter and failure key deleted; delay 0 goes straight to the queue", async () => {
  const registry = new Registry();
  let runs = 0;
  registry.register("Doomed", () => {
    runs++;
    throw new Error(`run ${runs}`);
  }, { retry: { limit: 2 } });
  const w = worker(registry, "dq", { promote: false });
  await c.send("RPUSH", [`${ns}queue:dq`, '{"class":"Doomed","args":[1]}']);
  await waitFor(async () => (await c.llen(`${ns}failed`)) === 1, 10_000, "the final failure");
  await Bun.sleep(200);
  expect(runs).toBe(3);
  const failed = (await c.lrange(`${ns}failed`, 0, -1)).map((s) => JSON.parse(s) as Record<string, unknown>);
  expect(failed).toHaveLength(1);
  expect(failed[0]).toMatchObject({ payload: { class: "Doomed", args: [1] }, exception: "Error", error: "run 3 (attempt 3, retry limit reached)", queue: "dq" });
  expect(await c.keys(`${ns}*resque-retry*`)).toEqual([]);
  // Delay 0: resque-retry's enqueue_to, no delayed keys, no failure-<key> (suppressed).
  expect(await c.exists(`${ns}delayed_queue_schedule`)).toBe(false);
  expect([await stat("processed"), await stat("failed")]).toEqual([3, 3]);
  await stop(w);
});

test("retryOn: a listed class (or a subclass) or name retries, any other error fails at once with its attempt", async () => {
  const registry = new Registry();
  const runs: Record<string, number> = {};
  const failWith = (name: string, make: () => Error, retry: RetryPolicy) =>
    registry.register(name, () => {
      runs[name] = (runs[name] ?? 0) + 1;
      throw make();
    }, { retry });
  failWith("ByClass", () => new SlowTimeoutErr("slow"), { limit: 1, retryOn: [TimeoutErr] });
  failWith("ByName", () => new SlowTimeoutErr("slow"), { limit: 1, retryOn: ["TimeoutErr"] });
  failWith("Other", () => new TypeError("bad"), { limit: 1, retryOn: [TimeoutErr, "TimeoutErr"] });
  const w = worker(registry, "oq", { promote: false });
  await c.send("RPUSH", [`${ns}queue:oq`, '{"class":"ByClass","args":[]}', '{"class":"ByName","args":[]}', '{"class":"Other","args":[]}']);
  await waitFor(async () => (await c.llen(`${ns}failed`)) === 3, 10_000, "three final failures");
  expect(runs).toEqual({ ByClass: 2, ByName: 2, Other: 1 });
  const errors = (await c.lrange(`${ns}failed`, 0, -1)).map((s) => (JSON.parse(s) as { payload: { class: string }; error: string }));
  expect(errors.find((e) => e.payload.class === "Other")?.error).toBe("bad (attempt 1, not retried for this error)");
  expect(errors.find((e) => e.payload.class === "ByClass")?.error).toBe("slow (attempt 2, retry limit reached)");
  await stop(w);
});

test("defineJob takes the retry option (its hooks see ctx.attempt); a class without one keeps Resque's behaviour and writes no retry key", async () => {
  const registry = new Registry();
  let typedRuns = 0;
  const hookAttempts: number[] = [];
  defineJob(registry, { enqueueMany: async () => 0, enqueueAt: async () => "delayed" as const }, "Typed", { queue: "tq", retry: { limit: 1 } }, () => {
    typedRuns++;
    if (typedRuns === 1) throw new Error("once");
  }).before((ctx) => void hookAttempts.push(ctx.attempt));
  registry.register("Plain", () => {
    throw new Error("plain");
  });
  const w = worker(registry, "tq", { promote: false });
  await c.send("RPUSH", [`${ns}queue:tq`, '{"class":"Typed","args":["t"]}', '{"class":"Plain","args":["p"]}']);
  await waitFor(() => typedRuns === 2, 10_000, "the typed job's retry");
  await waitFor(async () => (await c.llen(`${ns}failed`)) === 1, 5000, "the plain failure");
  const [plain] = (await c.lrange(`${ns}failed`, 0, -1)).map((s) => JSON.parse(s) as { error: string });
  expect(plain?.error).toBe("plain");
  expect(hookAttempts).toEqual([1, 2]);
  expect(await c.keys(`${ns}*retry*`)).toEqual([]);
  await stop(w);
});

test("a bad retry policy is refused at registration with one line naming the class", () => {
  const registry = new Registry();
  expect(() => registry.register("X", () => {}, { retry: { limit: 1.5 } })).toThrow(/retry policy of X: limit must be an integer/);
  expect(() => registry.register("Y", () => {}, { retry: { retryOn: ["A"], fatal: ["B"] } })).toThrow(/retry policy of Y/);
  expect(registry.classes()).toEqual([]);
});

test("a job Ruby's resque-retry ran first (its observed commands replayed): bunworker continues its count, once per attempt", async () => {
  const registry = new Registry();
  const attempts: number[] = [];
  registry.register("RetryJob", function (this: { attempt: number }) {
    attempts.push(this.attempt);
    throw new Error("still broken");
  }, { retry: { limit: 2 } });
  // Ruby's attempt 0 on a Ruby worker (reference 5.1-5.3): before_perform SETNX -1 + INCR; on_failure SETNX -1 +
  // the delayed push (here already due); the backend's SETEX failure-<key>.
  const ts = String(Math.floor(Date.now() / 1000) - 1);
  await c.send("SETNX", [`${ns}${RUBY_KEY}`, "-1"]);
  await c.send("INCR", [`${ns}${RUBY_KEY}`]);
  await c.send("SETNX", [`${ns}${RUBY_KEY}`, "-1"]);
  await c.rpush(`${ns}delayed:${ts}`, RUBY_ITEM);
  await c.sadd(`${ns}timestamps:${RUBY_ITEM}`, `delayed:${ts}`);
  await c.send("ZADD", [`${ns}delayed_queue_schedule`, ts, ts]);
  await c.send("SETEX", [`${ns}failure-${RUBY_KEY}`, "10", '{"failed_at":"2026/12/01 03:19:29","payload":{"class":"RetryJob","args":[42,"x",[1,[2]],{"h":1},null]},"exception":"IOError","error":"boom","backtrace":[],"worker":"vm:13581:retryq","queue":"retryq"}']);
  const w = worker(registry, "retryq");
  await waitFor(async () => (await c.llen(`${ns}failed`)) === 1, 10_000, "the last failure");
  // Ruby ran attempt 0 (ctx.attempt 1); ours are Ruby's attempts 1 and 2; limit 2 gives up after the third run.
  expect(attempts).toEqual([2, 3]);
  const [entry] = (await c.lrange(`${ns}failed`, 0, -1)).map((s) => JSON.parse(s) as { error: string; payload: unknown });
  expect(entry?.error).toBe("still broken (attempt 3, retry limit reached)");
  expect(entry?.payload).toEqual({ class: "RetryJob", args: [42, "x", [1, [2]], { h: 1 }, null] });
  expect(await c.exists(`${ns}${RUBY_KEY}`)).toBe(false);
  expect(await c.exists(`${ns}failure-${RUBY_KEY}`)).toBe(false);
  await stop(w);
});

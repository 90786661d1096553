// Issue #16, points 1 and 5: defineJob registers the job and its handle enqueues exactly what enqueue() (and so
// Resque.enqueue) writes; enqueueMany writes the bytes of single enqueues, registers the queue once and sends one
// RPUSH per chunk; a bad payload writes nothing. The argument checking itself is the typecheck test
// (test/typed-job.typecheck.ts, run by `bun run typecheck`).
import { expect, test } from "bun:test";
import { RedisClient } from "bun";
import * as api from "../src/index";
import { CHUNK, pushJobs } from "../src/enqueue";
import { makeKeys } from "../src/keys";
import { isolateApi } from "./helpers/api";
import { startRedis } from "./helpers/redis";

let c: RedisClient;
const ns = isolateApi((client) => (c = client));

// Defined jobs run in real workers in hooks.test.ts, middleware.test.ts, examples.test.ts and package.test.ts
// (work() is not called here: it would leave its settings to the other files of this bun test process).
const Receipt = api.defineJob("TypedReceipt", { queue: "mail" }, async (_ctx, _orderId: number, _email: string, _opts?: { big: bigint }) => {});

test("defineJob registers the class; the handle enqueues on its queue with Resque's bytes, like enqueue()", async () => {
  expect(api.registeredClasses()).toContain("TypedReceipt");
  expect([Receipt.className, Receipt.queue]).toEqual(["TypedReceipt", "mail"]);
  await Receipt.enqueue(42, "a@b.c", { big: 18446744073709551616n });
  await api.enqueue({ queue: "mail", payload: { class: "TypedReceipt", args: [42, "a@b.c", { big: 18446744073709551616n }] } });
  await Receipt.enqueueTo("other", 1, "x@y.z");
  const [a, b] = await c.lrange(`${ns}queue:mail`, 0, -1);
  expect(a).toBe('{"class":"TypedReceipt","args":[42,"a@b.c",{"big":18446744073709551616}]}');
  expect(b).toBe(a);
  expect(await c.lrange(`${ns}queue:other`, 0, -1)).toEqual(['{"class":"TypedReceipt","args":[1,"x@y.z"]}']);
  expect((await c.smembers(`${ns}queues`)).sort()).toEqual(["mail", "other"]);
});

test("the handle's enqueueAt / enqueueIn write what enqueueAt() writes (resque-scheduler's keys); a due time goes to the queue", async () => {
  const at = Date.UTC(2031, 0, 2, 3, 4, 5, 678);
  expect(await Receipt.enqueueAt(new Date(at), 7, "d@e.f")).toBe("delayed");
  expect(await api.enqueueAt(at, { queue: "mail", payload: Receipt.payload(8, "d@e.f") })).toBe("delayed");
  const second = String(Math.floor(at / 1000));
  expect(await c.lrange(`${ns}delayed:${second}`, 0, -1)).toEqual([
    '{"class":"TypedReceipt","args":[7,"d@e.f"],"queue":"mail"}',
    '{"class":"TypedReceipt","args":[8,"d@e.f"],"queue":"mail"}',
  ]);
  expect(await c.zscore(`${ns}delayed_queue_schedule`, second)).toBe(Number(second));
  expect(await Receipt.enqueueIn(3600, 9, "g@h.i")).toBe("delayed");
  expect(await api.delayedCount()).toBe(3);
  expect(await Receipt.enqueueIn(-5, 10, "now@x.y")).toBe("queued");
  expect(await c.lrange(`${ns}queue:mail`, -1, -1)).toEqual(['{"class":"TypedReceipt","args":[10,"now@x.y"]}']);
  await expect(Receipt.enqueueIn(Number.NaN, 1, "x")).rejects.toThrow(/TypedReceipt\.enqueueIn: seconds must be a finite number/);
});

test("enqueueMany writes the same bytes as enqueue() one by one, in order, extra keys and bigint kept", async () => {
  const payloads: api.JobPayload[] = [
    { class: "A", args: [1, "ünï", { a: [true, null] }, 18446744073709551616n] },
    { class: "A", args: [], meta: "x" },
    { class: "B" },
  ];
  for (const p of payloads) await api.enqueue({ queue: "single", payload: p });
  expect(await api.enqueueMany("bulk", payloads)).toBe(3);
  const single = await c.lrange(`${ns}queue:single`, 0, -1);
  expect(single).toHaveLength(3);
  expect(await c.lrange(`${ns}queue:bulk`, 0, -1)).toEqual(single);
  expect(await Receipt.enqueueMany([[1, "a"], [2, "b"]])).toBe(2);
  expect((await c.lrange(`${ns}queue:mail`, -2, -1)).map((r) => JSON.parse(r).args)).toEqual([[1, "a"], [2, "b"]]);
});

test("enqueueMany refuses a bad payload before writing anything, naming what is wrong", async () => {
  await expect(api.enqueueMany("refused", [{ class: "Ok" }, { class: "" }])).rejects.toThrow("payload.class");
  await expect(api.enqueueMany("refused", [{ class: "Ok", args: "nope" as never }])).rejects.toThrow('payload.args of class "Ok" must be an array');
  await expect(api.enqueueMany("", [{ class: "Ok" }])).rejects.toThrow("queue is required");
  expect(await c.exists(`${ns}queue:refused`)).toBe(false);
  expect(await c.sismember(`${ns}queues`, "refused")).toBe(false);
  expect(await api.enqueueMany("empty", [])).toBe(0);
});

test("a bulk of 12,345 jobs: one SADD and one RPUSH per chunk of 5,000, every job in order", async () => {
  const server = await startRedis();
  const own = new RedisClient(server.url);
  try {
    const n = 12_345;
    const payloads = Array.from({ length: n }, (_, i) => ({ class: "Bulk", args: [i] }));
    await own.send("CONFIG", ["RESETSTAT"]);
    expect(await pushJobs(own, makeKeys("resque:"), "bulk", payloads)).toBe(n);
    const stats = (await own.send("INFO", ["commandstats"])) as string;
    const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    expect([calls("sadd"), calls("rpush")]).toEqual([1, Math.ceil(n / CHUNK)]);
    const stored = await own.lrange("resque:queue:bulk", 0, -1);
    expect(stored).toHaveLength(n);
    expect(stored.every((raw, i) => raw === `{"class":"Bulk","args":[${i}]}`)).toBe(true);
  } finally {
    own.close();
    await server.stop();
  }
});

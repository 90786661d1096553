// Issue #2's public API: enqueue writes exactly what Resque.enqueue writes; namespace(), redis(), init(), close().
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import * as api from "../src/index";
import { isolateApi } from "./helpers/api";

let c: RedisClient;
const ns = isolateApi((client) => (c = client));

test("enqueue: SADD queues + RPUSH of {\"class\",\"args\"}, class first, compact, extra keys kept, bigint exact", async () => {
  await api.enqueue({ queue: "mail", payload: { class: "Mailer", args: [1, "ünï", { a: [true, null] }, 18446744073709551616n] } });
  await api.enqueue({ queue: "mail", payload: { class: "Mailer", args: [], meta: "x" } });
  await api.enqueue({ queue: "other", payload: { class: "Other" } });
  expect(await c.lrange(`${ns}queue:mail`, 0, -1)).toEqual([
    '{"class":"Mailer","args":[1,"ünï",{"a":[true,null]},18446744073709551616]}',
    '{"class":"Mailer","args":[],"meta":"x"}',
  ]);
  expect(await c.lrange(`${ns}queue:other`, 0, -1)).toEqual(['{"class":"Other","args":[]}']);
  expect((await c.smembers(`${ns}queues`)).sort()).toEqual(["mail", "other"]);
});

test("enqueue refuses a payload without a class, naming what is wrong", async () => {
  await expect(api.enqueue({ queue: "q", payload: { class: "" } })).rejects.toThrow("payload.class");
  await expect(api.enqueue({ queue: "", payload: { class: "X" } })).rejects.toThrow("queue is required");
});

test("namespace() and redis() share the worker's settings and connection", async () => {
  expect(api.namespace()).toBe(ns);
  await api.init();
  await api.redis().set(`${ns}probe`, "1");
  expect(await c.get(`${ns}probe`)).toBe("1");
});

test("register refuses a second function for the same class", () => {
  api.register("OnlyOnce", () => {});
  expect(() => api.register("OnlyOnce", () => {})).toThrow(api.DuplicateJobError);
  expect(api.registeredClasses()).toContain("OnlyOnce");
});

test("work() with explicit bad settings rejects with a clear error", async () => {
  await expect(api.work({ queues: [] })).rejects.toThrow("--queues is required");
  await expect(api.work({ queues: ["q"], concurrency: 0 })).rejects.toThrow("--concurrency");
  await expect(api.work({ queues: ["q"], uri: "http://x" })).rejects.toThrow("unsupported scheme");
});

test("use(), onStart() and onStop() after work() was called throw instead of being ignored (#16)", async () => {
  await expect(api.work({ queues: [] })).rejects.toThrow("--queues is required");
  expect(() => api.use(async (_ctx, next) => next())).toThrow("use() must be called before work()");
  expect(() => api.onStart(() => {})).toThrow("onStart() must be called before work()");
  expect(() => api.onStop(() => {})).toThrow("onStop() must be called before work()");
});

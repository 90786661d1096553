// Issue #17 point 2: promotion of due delayed items (promote-4.lua and the Promoter), with the reference's
// observed bytes as fixtures (resque-scheduler-and-retry.md sections 1.2, 2.2, 6 (a); activejob-on-resque.md 3).
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { createConsola } from "consola/core";
import { resolveConfig } from "../src/config";
import type { WorkerContext } from "../src/context";
import { promoteScript, type PromoteInput } from "../src/delayed-scripts";
import { deadPredecessor } from "../src/master-lock";
import { makeKeys } from "../src/keys";
import { Promoter } from "../src/promoter";
import { Outage } from "../src/retry";
import { defaultSettings } from "../src/settings";
import { isolate, REDIS_URL } from "./helpers/redis";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

const PAST = 1796095277; // the observed trace's bucket: due by now
const input = (over: Partial<PromoteInput> = {}): PromoteInput => ({
  lockValue: "testhost:1:me", takeOver: "", lockTtlMs: 20_000, batch: 100, nowMs: Date.now(), failedAt: "2026/12/02 10:00:00 UTC", worker: "testhost:1:delayed-promoter", skip: [], ...over,
}) as PromoteInput;
const promote = (over: Partial<PromoteInput> = {}) => promoteScript(c, makeKeys(ns), input(over));

/** What resque-scheduler's delayed_push sends (reference 1.3), with the given item bytes. */
async function rubyPush(ts: number, ...items: string[]): Promise<void> {
  for (const item of items) {
    await c.rpush(`${ns}delayed:${ts}`, item);
    await c.sadd(`${ns}timestamps:${item}`, `delayed:${ts}`);
    await c.send("ZADD", [`${ns}delayed_queue_schedule`, String(ts), String(ts)]);
  }
}

// The five items of the reference's MONITOR trace (2.2): two written by Ruby, two hand-written the way a
// non-Ruby client would (queue first, extra id, 1e3, a bigint), one without a queue.
const PROBE = '{"class":"ProbeJob","args":[1,"two",{"k":"v"},null,2.5,"u/é"],"queue":"probe"}';
const TSONLY = '{"class":"TsOnlyJob","args":["x"],"queue":"other"}';
const TS7 = '{"class":"TsOnlyJob","args":[7],"queue":"tsq"}';
const HAND = '{"queue":"tsq","class":"TsOnlyJob","args":[1.0,1e3,12345678901234567890,{"z":1,"a":2}],"id":"abc"}';
const NOQUEUE = '{"class":"NoQueueJob","args":[]}';

test("a bucket written by Ruby is promoted: class and args bytes kept, queue (and id) dropped, every key cleaned up", async () => {
  await rubyPush(PAST, PROBE, TSONLY, TS7, HAND, NOQUEUE);
  await c.hset(`${ns}delayed:last_enqueued_at`, "probe_every", "2026-12-01 03:19:28 +0000");
  const r = await promote();
  expect(r).toMatchObject({ master: true, moved: 4, failed: 1, more: false, next: null, bad: null });
  expect(await c.lrange(`${ns}queue:probe`, 0, -1)).toEqual(['{"class":"ProbeJob","args":[1,"two",{"k":"v"},null,2.5,"u/é"]}']);
  expect(await c.lrange(`${ns}queue:other`, 0, -1)).toEqual(['{"class":"TsOnlyJob","args":["x"]}']);
  // Ruby re-renders 1e3 as 1000.0; we keep the bytes (no re-encoding).
  expect(await c.lrange(`${ns}queue:tsq`, 0, -1)).toEqual(['{"class":"TsOnlyJob","args":[7]}', '{"class":"TsOnlyJob","args":[1.0,1e3,12345678901234567890,{"z":1,"a":2}]}']);
  expect((await c.smembers(`${ns}queues`)).sort()).toEqual(["other", "probe", "tsq"]);
  // The item Ruby would silently drop is a failure entry that keeps its bytes.
  const [entry] = (await c.lrange(`${ns}failed`, 0, -1)) as string[];
  expect(entry).toContain(`"payload":${NOQUEUE},"exception":"Resque::NoQueueError"`);
  expect(JSON.parse(entry as string)).toMatchObject({ failed_at: "2026/12/02 10:00:00 UTC", backtrace: [], worker: "testhost:1:delayed-promoter" });
  for (const item of [PROBE, TSONLY, TS7, HAND, NOQUEUE]) expect(await c.exists(`${ns}timestamps:${item}`)).toBe(false);
  expect(await c.exists(`${ns}delayed:${PAST}`)).toBe(false);
  expect(await c.exists(`${ns}delayed_queue_schedule`)).toBe(false);
  // delayed:last_enqueued_at shares the prefix but is a HASH, not a bucket: untouched.
  expect(await c.hget(`${ns}delayed:last_enqueued_at`, "probe_every")).toBe("2026-12-01 03:19:28 +0000");
  expect(await c.get(`${ns}${ns.slice(0, -1)}:resque_scheduler_master_lock`)).toBe("testhost:1:me");
});

test("a Rails set(wait:) item (ActiveJob's JobWrapper through resque-scheduler) is promoted with the wrapper bytes unchanged", async () => {
  const wrapper = '{"class":"ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper","args":[{"job_class":"HelloJob","job_id":"5b5a1d07-861a-4423-915c-de25a96a7aba","provider_job_id":null,"queue_name":"default","priority":null,"arguments":["World",42,18446744073709551616,1.5,null,true,[1,"a"],{"k":"v","_aj_symbol_keys":[]}],"executions":0,"exception_executions":{},"locale":"en","timezone":null,"enqueued_at":"2026-12-02T13:55:51Z"}]';
  await rubyPush(PAST, `${wrapper},"queue":"default"}`);
  expect((await promote()).moved).toBe(1);
  expect(await c.lrange(`${ns}queue:default`, 0, -1)).toEqual([`${wrapper}}`]);
});

test("args that are not an array become one as Ruby's Array() makes them; missing or null args become []", async () => {
  await rubyPush(PAST, '{"class":"A","args":{"h":1},"queue":"q"}', '{"class":"B","args":"x","queue":"q"}', '{"class":"C","queue":"q"}', '{"class":"D","args":null,"queue":"q"}');
  await promote();
  expect(await c.lrange(`${ns}queue:q`, 0, -1)).toEqual(['{"class":"A","args":[{"h":1}]}', '{"class":"B","args":["x"]}', '{"class":"C","args":[]}', '{"class":"D","args":[]}']);
});

test("nothing moves while another process holds the lock; a free lock is taken with a TTL; a named dead holder is taken over", async () => {
  const lock = `${ns}${ns.slice(0, -1)}:resque_scheduler_master_lock`;
  await rubyPush(PAST, TSONLY);
  await c.set(lock, "rubyhost:4242");
  expect(await promote()).toMatchObject({ master: false, holder: "rubyhost:4242", moved: 0 });
  expect(await c.llen(`${ns}delayed:${PAST}`)).toBe(1);
  expect(await promote({ takeOver: "rubyhost:4242" })).toMatchObject({ master: true, moved: 1 });
  expect(await c.get(lock)).toBe("testhost:1:me");
  expect(await c.pttl(lock)).toBeGreaterThan(15_000);
  await c.del(lock);
  await promote();
  expect(await c.get(lock)).toBe("testhost:1:me");
});

test("a due bucket larger than a batch: items a Ruby client pushes between batches are promoted too, each once, in order", async () => {
  const items = Array.from({ length: 250 }, (_, i) => `{"class":"N","args":[${i}],"queue":"q"}`);
  await rubyPush(PAST, ...items.slice(0, 200));
  const first = await promote();
  expect(first).toMatchObject({ moved: 100, more: true });
  await rubyPush(PAST, ...items.slice(200));
  while ((await promote()).more);
  expect(await c.lrange(`${ns}queue:q`, 0, -1)).toEqual(items.map((i) => i.replace(',"queue":"q"', "")));
  expect(await c.exists(`${ns}delayed_queue_schedule`)).toBe(false);
});

test("the next due second comes back, and items not yet due stay", async () => {
  const future = Math.floor(Date.now() / 1000) + 3600;
  await rubyPush(future, TSONLY);
  expect(await promote()).toMatchObject({ master: true, moved: 0, more: false, next: future });
  expect(await c.llen(`${ns}delayed:${future}`)).toBe(1);
});

test("bad data a Ruby writer could leave is reported and skipped, and the rest is promoted", async () => {
  await c.send("ZADD", [`${ns}delayed_queue_schedule`, String(PAST - 2), `${PAST - 2}.5`]);
  await c.send("ZADD", [`${ns}delayed_queue_schedule`, String(PAST - 1), String(PAST - 1)]);
  await c.set(`${ns}delayed:${PAST - 1}`, "a string, not a list");
  await rubyPush(PAST, "this is not json", TSONLY);
  // A missing bucket the schedule still names (Ruby's remove_delayed leaves these): its entry is removed.
  await c.send("ZADD", [`${ns}delayed_queue_schedule`, String(PAST - 3), String(PAST - 3)]);
  const a = await promote();
  expect(a.bad).toBeNull();
  const b = await promote();
  expect(b.bad).toEqual({ member: `${PAST - 2}.5`, why: "is not an integer number of seconds" });
  const c2 = await promote({ skip: [`${PAST - 2}.5`] });
  expect(c2.bad).toEqual({ member: String(PAST - 1), why: `${ns}delayed:${PAST - 1} holds a string, not a list` });
  const d = await promote({ skip: [`${PAST - 2}.5`, String(PAST - 1)] });
  expect(d).toMatchObject({ moved: 1, failed: 1, more: false, bad: null });
  expect(await c.lrange(`${ns}queue:other`, 0, -1)).toEqual(['{"class":"TsOnlyJob","args":["x"]}']);
  const failure = JSON.parse((await c.lindex(`${ns}failed`, 0)) as string);
  expect(failure).toMatchObject({ payload: { class: "Bunworker::MalformedPayload", args: ["this is not json"] }, exception: "MalformedPayloadError" });
  expect(await c.get(`${ns}delayed:${PAST - 1}`)).toBe("a string, not a list");
});

function context(log: string[]): WorkerContext {
  const logger = createConsola({ level: 4, reporters: [{ log: (o) => void log.push(`${o.type}: ${o.args.map(String).join(" ")}`) }] });
  const config = resolveConfig({ ...defaultSettings({}), uri: REDIS_URL, namespace: ns, queues: ["q"], interval: 0.2, commandTimeout: 2 }, { log: logger });
  return { config, proc: "testhost:1:x", host: "testhost", outage: new Outage(logger, "test"), hardStop: new AbortController().signal };
}

test("the Promoter reports a bad second once, never loops on it, and promotes the rest", async () => {
  const logs: string[] = [];
  const p = new Promoter(context(logs), { instance: "i1" });
  await c.send("ZADD", [`${ns}delayed_queue_schedule`, String(PAST - 1), String(PAST - 1)]);
  await c.set(`${ns}delayed:${PAST - 1}`, "x");
  await rubyPush(PAST, TSONLY);
  expect(await p.pass()).toBeGreaterThan(0);
  expect(await p.pass()).toBeGreaterThan(0);
  expect(logs.filter((l) => l.includes("cannot be promoted")).length).toBe(1);
  expect(p.moved).toBe(1);
  await p.stop();
  // Released on stop: a successor need not wait for it to lapse.
  expect(await c.exists(`${ns}${ns.slice(0, -1)}:resque_scheduler_master_lock`)).toBe(false);
});

test("two Promoters: one holds the lock, the other stands by and takes over when the first stops", async () => {
  const logs: string[] = [];
  const a = new Promoter(context(logs), { instance: "a" });
  const b = new Promoter(context(logs), { instance: "b" });
  await a.pass();
  await b.pass();
  expect([a.holding, b.holding]).toEqual([true, false]);
  await a.stop();
  await b.pass();
  expect(b.holding).toBe(true);
  await b.stop();
});

test("a dead predecessor is recognised by host and pid (ours or a Ruby scheduler's value), a live one or another host's is not", () => {
  const dead = () => null;
  const alive = () => ({ state: "S", start: "1" });
  expect(deadPredecessor("h:123:abc", "h", 99, dead)).toBe("h:123:abc");
  expect(deadPredecessor("h:123", "h", 99, dead)).toBe("h:123");
  expect(deadPredecessor("h:123", "h", 99, () => ({ state: "Z", start: "1" }))).toBe("h:123");
  expect(deadPredecessor("h:123", "h", 99, alive)).toBe("");
  expect(deadPredecessor("other:123", "h", 99, dead)).toBe("");
  expect(deadPredecessor("h:99:x", "h", 99, dead)).toBe("");
  expect(deadPredecessor(null, "h", 99, dead)).toBe("");
});

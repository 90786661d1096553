// Issue #17 point 1: delayed jobs in resque-scheduler's keys, byte for byte (reference sections 1.1-1.4, 6 (b)).
import { afterAll, beforeEach, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { close, delayedCount, enqueueAt, enqueueIn, removeDelayed, setSettings } from "../src/index";
import { BadKeyError } from "../src/scripts";
import { isolate, REDIS_URL } from "./helpers/redis";
import { hasRuby, ruby, rubyRequired } from "./helpers/ruby";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});
beforeEach(() => setSettings({ uri: REDIS_URL, namespace: ns }));
afterAll(() => close());

// A second a year ahead (the reference's observed 1796095166 has passed by now).
const FUTURE = Math.floor(Date.now() / 1000) + 365 * 86400;
const probe = { queue: "probe", payload: { class: "ProbeJob", args: [1, "two", { k: "v" }, null, 2.5, "u/é"] } };
// Observed bytes of Ruby's enqueue_in(2, ProbeJob, 1, "two", {"k"=>"v"}, nil, 2.5, "u/é") (reference 1.2).
const PROBE_ITEM = '{"class":"ProbeJob","args":[1,"two",{"k":"v"},null,2.5,"u/é"],"queue":"probe"}';

test("enqueueAt writes the bucket, the timestamps set and the schedule member exactly as resque-scheduler's delayed_push", async () => {
  expect(await enqueueAt(new Date(FUTURE * 1000 + 700), probe)).toBe("delayed");
  expect(await c.lrange(`${ns}delayed:${FUTURE}`, 0, -1)).toEqual([PROBE_ITEM]);
  expect(await c.smembers(`${ns}timestamps:${PROBE_ITEM}`)).toEqual([`delayed:${FUTURE}`]);
  expect(await c.send("ZRANGE", [`${ns}delayed_queue_schedule`, "0", "-1", "WITHSCORES"])).toEqual([[String(FUTURE), FUTURE]]);
  // No queue entry yet, and nothing else written.
  expect((await c.keys(`${ns}*`)).sort()).toEqual([`${ns}delayed:${FUTURE}`, `${ns}delayed_queue_schedule`, `${ns}timestamps:${PROBE_ITEM}`].sort());
});

test("the same item twice at one second: two list entries, one set member; at two seconds: one set with two members", async () => {
  const job = { queue: "probe", payload: { class: "ProbeJob", args: ["at"] } };
  const item = '{"class":"ProbeJob","args":["at"],"queue":"probe"}';
  await enqueueAt(FUTURE * 1000, job);
  await enqueueAt(FUTURE * 1000, job);
  await enqueueAt((FUTURE + 10) * 1000, job);
  expect(await c.llen(`${ns}delayed:${FUTURE}`)).toBe(2);
  expect((await c.smembers(`${ns}timestamps:${item}`)).sort()).toEqual([`delayed:${FUTURE}`, `delayed:${FUTURE + 10}`]);
  expect(await delayedCount()).toBe(3);
});

test("integers beyond 2^53 keep their exact digits", async () => {
  await enqueueAt(FUTURE * 1000, { queue: "q", payload: { class: "Big", args: [18446744073709551616n, -1180591620717411303424n] } });
  expect(await c.lrange(`${ns}delayed:${FUTURE}`, 0, -1)).toEqual(['{"class":"Big","args":[18446744073709551616,-1180591620717411303424],"queue":"q"}']);
});

test("a time already due goes straight to its queue as {class, args} (Ruby's enqueue_at), with no delayed keys", async () => {
  expect(await enqueueAt(new Date(Date.now() - 60_000), { queue: "now", payload: { class: "X", args: [1] } })).toBe("queued");
  expect(await c.lrange(`${ns}queue:now`, 0, -1)).toEqual(['{"class":"X","args":[1]}']);
  expect(await c.smembers(`${ns}queues`)).toEqual(["now"]);
  expect(await c.exists(`${ns}delayed_queue_schedule`)).toBe(false);
});

test("enqueueIn floors now + seconds to the second (Ruby's to_i)", async () => {
  const before = Math.floor(Date.now() / 1000);
  expect(await enqueueIn(3600, { queue: "q", payload: { class: "Later" } })).toBe("delayed");
  const [member] = (await c.send("ZRANGE", [`${ns}delayed_queue_schedule`, "0", "-1"])) as string[];
  expect(Number(member)).toBeGreaterThanOrEqual(before + 3600);
  expect(Number(member)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 3600);
  expect(member).toMatch(/^\d+$/);
  expect(await c.lrange(`${ns}delayed:${member}`, 0, -1)).toEqual(['{"class":"Later","args":[],"queue":"q"}']);
});

test("removeDelayed removes every copy at every second, returns the count, and cleans up emptied seconds", async () => {
  const job = { queue: "probe", payload: { class: "ProbeJob", args: ["at"] } };
  const other = { queue: "probe", payload: { class: "ProbeJob", args: ["keep"] } };
  await enqueueAt(FUTURE * 1000, job);
  await enqueueAt(FUTURE * 1000, job);
  await enqueueAt(FUTURE * 1000, other);
  await enqueueAt((FUTURE + 5) * 1000, job);
  expect(await removeDelayed(job)).toBe(3);
  expect(await removeDelayed(job)).toBe(0);
  expect(await delayedCount()).toBe(1);
  expect(await c.send("ZRANGE", [`${ns}delayed_queue_schedule`, "0", "-1"])).toEqual([String(FUTURE)]);
  expect(await c.exists(`${ns}delayed:${FUTURE + 5}`)).toBe(false);
  expect(await c.exists(`${ns}timestamps:{"class":"ProbeJob","args":["at"],"queue":"probe"}`)).toBe(false);
});

test("a delayed key of the wrong type is named, and nothing is written", async () => {
  await c.set(`${ns}delayed_queue_schedule`, "oops");
  const e = await enqueueAt(FUTURE * 1000, probe).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(BadKeyError);
  expect((e as Error).message).toContain(`${ns}delayed_queue_schedule holds a string`);
  expect(await c.exists(`${ns}delayed:${FUTURE}`)).toBe(false);
  expect(await c.exists(`${ns}timestamps:${PROBE_ITEM}`)).toBe(false);
});

test("bad input is refused with one line naming it", async () => {
  await expect(enqueueAt(FUTURE * 1000, { queue: "", payload: { class: "X" } })).rejects.toThrow(/queue is required/);
  await expect(enqueueIn(Number.NaN, probe)).rejects.toThrow(/seconds must be a number/);
  await expect(enqueueAt(FUTURE * 1000, { queue: "q", payload: { class: "X", args: [Number.POSITIVE_INFINITY] } })).rejects.toThrow(/cannot be encoded/);
  await expect(enqueueAt(FUTURE * 1000, { queue: "q", payload: { class: "X", id: "a" } as never })).rejects.toThrow(/would be dropped/);
});

// Ruby's own API, replayed with Ruby's encoding: Resque.encode(job_to_hash_with_queue) is MultiJson.dump, and
// delayed?/scheduled_at and remove_delayed go through SMEMBERS timestamps:<that encoding> (reference 1.4).
test.skipIf(!hasRuby && !rubyRequired)("Ruby's delayed?, scheduled_at and remove_delayed find ours by their bytes", async () => {
  await enqueueAt(FUTURE * 1000, probe);
  await enqueueAt((FUTURE + 7) * 1000, probe);
  await enqueueAt(FUTURE * 1000, { queue: "q", payload: { class: "Big", args: [18446744073709551616n] } });
  const out = await ruby(`
    r = Redis.new(url: ENV["REDIS_URL"]); ns = ENV["NS"]
    enc = ->(klass, queue, *args) { JSON.generate({ class: klass, args: args, queue: queue }) }
    a = enc.("ProbeJob", "probe", 1, "two", { "k" => "v" }, nil, 2.5, "u/é")
    b = enc.("Big", "q", 2**64)
    scheduled_at = r.smembers(ns + "timestamps:" + a).map { |k| k.tr("delayed:", "").to_i }.sort
    delayed_b = !r.smembers(ns + "timestamps:" + b).empty?
    removed = r.smembers(ns + "timestamps:" + a).map { |k| x = r.lrem(ns + k, 0, a); r.srem(ns + "timestamps:" + a, k); x }.sum
    puts [scheduled_at, delayed_b, removed].to_json
  `, { REDIS_URL, NS: ns });
  expect(JSON.parse(out)).toEqual([[FUTURE, FUTURE + 7], true, 2]);
  expect(await delayedCount()).toBe(1);
});

test("a timestamps set naming a missing bucket or a key of another type (Ruby-writer leftovers): removeDelayed skips them and removes the rest", async () => {
  const job = { queue: "probe", payload: { class: "ProbeJob", args: ["at"] } };
  const item = '{"class":"ProbeJob","args":["at"],"queue":"probe"}';
  await enqueueAt(FUTURE * 1000, job);
  await c.sadd(`${ns}timestamps:${item}`, `delayed:${FUTURE - 100}`, `delayed:${FUTURE - 200}`);
  await c.set(`${ns}delayed:${FUTURE - 200}`, "not a list");
  expect(await removeDelayed(job)).toBe(1);
  // The missing bucket's member is gone; the member naming a string key is left for an operator.
  expect(await c.smembers(`${ns}timestamps:${item}`)).toEqual([`delayed:${FUTURE - 200}`]);
  expect(await c.get(`${ns}delayed:${FUTURE - 200}`)).toBe("not a list");
  expect(await delayedCount()).toBe(0);
});

// resque-scheduler's promotion pass (reference 2.2, redis-rb 4.x: LRANGE, WATCH, MULTI of SREM/SADD/RPUSH and
// LTRIM, then clean_up_timestamp), replayed with real Ruby on our items, as handle_delayed_items(at) runs it.
test.skipIf(!hasRuby && !rubyRequired)("a Ruby scheduler's promotion pass moves our items: they carry their queue, and every key is cleaned up", async () => {
  await enqueueAt(FUTURE * 1000, probe);
  await enqueueAt(FUTURE * 1000, { queue: "q", payload: { class: "Big", args: [18446744073709551616n] } });
  await ruby(`
    r = Redis.new(url: ENV["REDIS_URL"]); ns = ENV["NS"]; at = ENV["AT"].to_i
    while (ts = r.zrangebyscore(ns + "delayed_queue_schedule", "-inf", at, limit: [0, 1]).first)
      key = ns + "delayed:#{ts}"
      items = r.lrange(key, 0, 99)
      r.watch(key)
      r.multi do |m|
        items.each do |i|
          h = JSON.parse(i)
          m.srem(ns + "timestamps:" + i, "delayed:#{ts}")
          m.sadd(ns + "queues", h["queue"])
          m.rpush(ns + "queue:" + h["queue"], JSON.generate({ "class" => h["class"], "args" => h["args"] }))
        end
        m.ltrim(key, items.size, -1)
      end
      r.watch(key)
      if r.llen(key) == 0
        r.multi { |m| m.del(key); m.zrem(ns + "delayed_queue_schedule", ts) }
      else
        r.unwatch
      end
    end
  `, { REDIS_URL, NS: ns, AT: String(FUTURE) });
  expect(await c.lrange(`${ns}queue:probe`, 0, -1)).toEqual(['{"class":"ProbeJob","args":[1,"two",{"k":"v"},null,2.5,"u/é"]}']);
  expect(await c.lrange(`${ns}queue:q`, 0, -1)).toEqual(['{"class":"Big","args":[18446744073709551616]}']);
  expect((await c.keys(`${ns}*`)).sort()).toEqual([`${ns}queue:probe`, `${ns}queue:q`, `${ns}queues`]);
});

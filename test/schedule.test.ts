// Issue #17 point 3: recurring schedules in resque-scheduler's format, fired once per tick by the lock holder.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { createConsola } from "consola/core";
import { resolveConfig } from "../src/config";
import type { WorkerContext } from "../src/context";
import { makeKeys } from "../src/keys";
import { Promoter } from "../src/promoter";
import { RedisConn } from "../src/redis";
import { Outage } from "../src/retry";
import { parseDuration, parseSchedule, parseScheduleYaml } from "../src/schedule";
import { Scheduler } from "../src/scheduler";
import { defaultSettings } from "../src/settings";
import { isolate, REDIS_URL, thrown, waitFor } from "./helpers/redis";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

test("cron as rufus-scheduler reads it: 5 fields, 6 with seconds first, a trailing time zone, @aliases", () => {
  const at = new Date("2026-12-02T00:00:10Z");
  const ny = parseSchedule("ny", { cron: "0 5 * * * America/New_York", class: "X", queue: "q" });
  // Observed with rufus: "0 5 * * * America/New_York" next fires at 10:00Z (reference section 3).
  expect(ny.next(at)?.toISOString()).toBe("2026-12-02T10:00:00.000Z");
  expect(parseSchedule("s", { cron: "30 * * * * *", queue: "q" }).next(at)?.toISOString()).toBe("2026-12-02T00:00:30.000Z");
  expect(parseSchedule("h", { cron: "@hourly", queue: "q" }).next(at)?.toISOString()).toBe("2026-12-02T01:00:00.000Z");
  expect(parseSchedule("utc", { cron: "*/15 * * * * UTC", queue: "q" }).latest(at)?.toISOString()).toBe("2026-12-02T00:00:00.000Z");
  expect(parseSchedule("arr", { cron: ["0 0 * * *", { first_in: "1s" }], queue: "q" }).next(at)?.toISOString()).toMatch(/T00:00:00.000Z$/);
});

test("every: rufus durations, ticks at multiples of the duration since the epoch", () => {
  expect(parseDuration("1s")).toBe(1000);
  expect(parseDuration("1h30m")).toBe(5_400_000);
  expect(parseDuration("1d")).toBe(86_400_000);
  expect(parseDuration("90")).toBe(90_000);
  expect(parseDuration("soon")).toBeNull();
  const s = parseSchedule("e", { every: "15m", queue: "q" });
  expect(s.latest(new Date("2026-12-02T10:20:00Z"))?.toISOString()).toBe("2026-12-02T10:15:00.000Z");
  expect(s.next(new Date("2026-12-02T10:20:00Z"))?.toISOString()).toBe("2026-12-02T10:30:00.000Z");
});

test("class defaults to the name; args follow Ruby's rule (nil -> [], a Hash -> [hash], a scalar -> [x]); bad configs name the schedule", () => {
  expect(parseSchedule("Cleanup", { every: "1h", queue: "q" }).payload).toBe('{"class":"Cleanup","args":[]}');
  expect(parseSchedule("a", { every: "1h", queue: "q", class: "X", args: { h: 1 } }).payload).toBe('{"class":"X","args":[{"h":1}]}');
  expect(parseSchedule("a", { every: "1h", queue: "q", class: "X", args: "contributors" }).payload).toBe('{"class":"X","args":["contributors"]}');
  expect(thrown(() => parseSchedule("nightly", { cron: "61 * * * *", queue: "q" })).message).toMatch(/^schedule "nightly": cron "61 \* \* \* \*" is not valid/);
  expect(thrown(() => parseSchedule("nightly", { cron: "0 0 * * *" })).message).toMatch(/^schedule "nightly": queue is required/);
  expect(thrown(() => parseSchedule("x", { queue: "q" })).message).toBe('schedule "x": needs cron or every');
  expect(thrown(() => parseSchedule("x", { every: "sometimes", queue: "q" })).message).toMatch(/every "sometimes" is not a duration/);
});

test("a schedule file in resque-scheduler's YAML format", () => {
  const yaml = `
queue_documents_for_indexing:
  cron: "0 0 * * *"
  class: "QueueDocuments"
  queue: high
  args:
  description: "This job queues all content for indexing in solr"

clear_leaderboards_contributors:
  cron: "30 6 * * 1 Europe/Stockholm"
  class: "ClearLeaderboards"
  queue: low
  args: contributors
  description: "This job resets the weekly leaderboard for contributions"
`;
  const [a, b] = parseScheduleYaml(yaml, "schedule.yml");
  expect(a?.payload).toBe('{"class":"QueueDocuments","args":[]}');
  expect(b?.payload).toBe('{"class":"ClearLeaderboards","args":["contributors"]}');
  // Monday 06:30 in Stockholm (UTC+1 in December) is 05:30Z.
  expect(b?.next(new Date("2026-12-02T00:00:00Z"))?.toISOString()).toBe("2026-12-07T05:30:00.000Z");
  expect(thrown(() => parseScheduleYaml("a: [", "bad.yml")).message).toMatch(/^bad.yml: not valid YAML/);
  expect(thrown(() => parseScheduleYaml("a:\n  every: 1s\n", "s.yml")).message).toBe('s.yml: schedule "a": queue is required (bunworker cannot read a Ruby class\'s @queue)');
});

function context(logs: string[] = []): WorkerContext {
  const log = createConsola({ level: 4, reporters: [{ log: (o) => void logs.push(`${o.type}: ${o.args.map(String).join(" ")}`) }] });
  const config = resolveConfig({ ...defaultSettings({}), uri: REDIS_URL, namespace: ns, queues: ["q"], interval: 0.2, commandTimeout: 2 }, { log });
  return { config, proc: "testhost:1:x", host: "testhost", outage: new Outage(log, "test"), hardStop: new AbortController().signal };
}

test("each tick is enqueued once across masters, only by the lock holder, without replaying missed ticks; last_enqueued_at as Ruby writes it", async () => {
  const ctx = context();
  const keys = makeKeys(ns);
  const conn = new RedisConn(ctx.config.target, 2000, "test");
  const every = [parseSchedule("probe_every", { every: "1s", class: "ProbeJob", args: ["rec"], queue: "recq" })];
  const a = new Scheduler(ctx, conn, every, "host:1:a", 5000);
  const b = new Scheduler(ctx, conn, every, "host:2:b", 5000);
  const t = Date.UTC(2026, 11, 2, 10, 0, 0);
  try {
    await c.set(keys.schedulerLock, "host:1:a");
    expect(await a.fire(t + 300)).toBe(true);
    expect(await a.fire(t + 600)).toBe(true);
    // Not the holder: nothing is written.
    expect(await b.fire(t + 1300)).toBe(false);
    // A handover: b holds the lock now and sees tick t as done, enqueues t + 1 s once.
    await c.set(keys.schedulerLock, "host:2:b");
    expect(await b.fire(t + 900)).toBe(true);
    expect(await b.fire(t + 1200)).toBe(true);
    expect(await b.fire(t + 1900)).toBe(true);
    // An hour without a master: one enqueue, not 3,600.
    expect(await b.fire(t + 3_600_500)).toBe(true);
    expect(await c.lrange(keys.queue("recq"), 0, -1)).toEqual(Array(3).fill('{"class":"ProbeJob","args":["rec"]}'));
    expect(a.fired + b.fired).toBe(3);
    expect(await c.smembers(keys.queues)).toEqual(["recq"]);
    expect(await c.hget(keys.lastEnqueuedAt, "probe_every")).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}$/);
  } finally {
    conn.close();
  }
});

test("Ruby's persisted dynamic schedules (persistent_schedules, observed bytes) are fired; a bad one is reported once and skipped", async () => {
  const logs: string[] = [];
  const ctx = context(logs);
  const keys = makeKeys(ns);
  const conn = new RedisConn(ctx.config.target, 2000, "test");
  await c.hset(keys.persistentSchedules, "probe_every", '{"class":"ProbeJob","every":"1s","args":["rec"],"queue":"recq"}');
  await c.hset(keys.persistentSchedules, "probe_cron_tz", '{"class":"ProbeJob","cron":"0 5 * * * America/New_York","args":{"h":1},"description":"d","queue":"tzq"}');
  await c.hset(keys.persistentSchedules, "broken", '{"class":"X","cron":"not cron","queue":"q"}');
  await c.set(keys.schedulerLock, "host:1:a");
  const s = new Scheduler(ctx, conn, [], "host:1:a", 5000);
  try {
    expect(await s.fire(Date.UTC(2026, 11, 2, 10, 0, 0, 200))).toBe(true);
    expect(await c.lrange(keys.queue("recq"), 0, -1)).toEqual(['{"class":"ProbeJob","args":["rec"]}']);
    expect(await c.lrange(keys.queue("tzq"), 0, -1)).toEqual(['{"class":"ProbeJob","args":[{"h":1}]}']);
    await s.fire(Date.UTC(2026, 11, 2, 10, 1, 10, 200));
    expect(logs.filter((l) => l.includes('schedule "broken"')).length).toBe(1);
  } finally {
    conn.close();
  }
});

test("two promoters firing an every-second schedule while the lock changes hands: never two enqueues of one tick", async () => {
  const keys = makeKeys(ns);
  const sched = [parseSchedule("tick", { every: "1s", class: "T", queue: "ticks" })];
  const a = new Promoter(context(), { instance: "a", schedules: sched });
  const b = new Promoter(context(), { instance: "b", schedules: sched });
  const started = Date.now();
  await a.start();
  await waitFor(() => a.holding, 3000, "a holds the lock");
  await b.start();
  await waitFor(async () => (await c.llen(keys.queue("ticks"))) >= 2, 5000, "two ticks from a");
  await a.stop();
  await waitFor(() => b.holding, 5000, "b takes over");
  const atHandover = Number(await c.llen(keys.queue("ticks")));
  await waitFor(async () => (await c.llen(keys.queue("ticks"))) >= atHandover + 2, 5000, "two ticks from b");
  await b.stop();
  const elapsedTicks = Math.ceil((Date.now() - started) / 1000) + 1;
  const n = Number(await c.llen(keys.queue("ticks")));
  expect(n).toBe(a.scheduler.fired + b.scheduler.fired);
  expect(n).toBeLessThanOrEqual(elapsedTicks);
  expect(Number(await c.hget(keys.scheduleTicks, "tick")) % 1000).toBe(0);
});

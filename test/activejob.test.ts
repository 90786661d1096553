// Issue #16, point 6: Rails ActiveJob jobs both ways, against the real ActiveJob 6.1 (test/fixtures/activejob.rb)
// and real Redis: Ruby's perform_later -> a bunworker worker process; enqueueActiveJob -> Ruby's
// ActiveJob::Base.execute.
import { beforeAll, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import * as api from "../src/index";
import { isolateApi } from "./helpers/api";
import { REDIS_URL } from "./helpers/redis";
import { rubyDescribe, runRuby } from "./helpers/ruby";
import { MAIN_WORKER, spawnWorker } from "./helpers/worker-process";

const WORKER = new URL("fixtures/activejob-worker.ts", import.meta.url).pathname;
const WRAPPER = "ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const describe = rubyDescribe("the ActiveJob tests (test/activejob.test.ts)");

let c: RedisClient;
const ns = isolateApi((client) => (c = client));

interface Seen {
  queue: string;
  args: unknown[];
  activeJob: Record<string, unknown> | null;
  payloadClass: string;
}

const gid = (id: string, uri = `gid://shop/User/${id}`) => ({ $gid: { uri, app: "shop", model: "User", id, params: {} } });

describe("Ruby's perform_later -> bunworker", () => {
  let seen: Map<string, Seen>;
  let failingItems: string[];
  let failed: { exception: string; error: string; payload: unknown; queue: string }[];
  let failedRaw: string[];

  beforeAll(async () => {
    await runRuby("activejob.rb", ["enqueue", REDIS_URL, ns]);
    failingItems = await c.lrange(`${ns}queue:failing`, 0, -1);
    const w = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=aj,mail,high,failing", "--exit-on-complete", "--use-number"], { script: WORKER });
    expect(await w.exited).toBe(0);
    const ran = (await c.lrange(`${ns}test:ran`, 0, -1)).map((s) => JSON.parse(s) as Seen);
    seen = new Map(ran.map((r) => [r.args[0] as string, r]));
    failedRaw = await c.lrange(`${ns}failed`, 0, -1);
    failed = failedRaw.map((s) => JSON.parse(s));
  });

  test("plain values as they are, big integers exact under --use-number", () => {
    expect(seen.get("basic")?.args).toEqual(["basic", "World", 42, { $bigint: "18446744073709551616" }, { $bigint: "-1180591620717411303424" }, 1.5, null, true, [1, "a", [false]], ""]);
    expect(seen.get("others")?.args).toEqual(["others", "1.1", "RecordJob", "caf\u00e9 \u{1F600}"]);
  });

  test("hashes without ActiveJob's markers (symbol keys, indifferent access), symbols as strings", () => {
    expect(seen.get("hashes")?.args).toEqual(["hashes", { k: "v" }, { sym: 1, str: 2, nested: { deep: [{ x: "y" }] } }, { a: 1, b: { c: 2 } }, {}]);
    expect(seen.get("symbols")?.args).toEqual(["symbols", "sym", ["a", "b"], { key: "value" }]);
  });

  test("keyword arguments as one trailing object", () => {
    expect(seen.get("keywords")?.args).toEqual(["keywords", "Ada", { name: "Ada", count: 3, tags: ["a", "b"] }]);
  });

  test("Time, DateTime and TimeWithZone as Date (to the millisecond); Date as YYYY-MM-DD; durations as seconds", () => {
    expect(seen.get("times")?.args).toEqual(["times", { $date: "2026-12-02T14:00:00.123Z" }, { $date: "2026-12-02T14:04:05.250Z" }, "2026-12-02", { $date: "2026-07-01T07:30:00.000Z" }]);
    expect(seen.get("durations")?.args).toEqual(["durations", 300, 5400, 2629746, 172803]);
  });

  test("models as GlobalId (app, model, unescaped id)", () => {
    expect(seen.get("models")?.args).toEqual(["models", gid("7"), [gid("a b/c", "gid://shop/User/a+b%2Fc")], { owner: gid("9") }]);
  });

  test("the context has the job's ActiveJob fields; the job runs in the wrapper's queue", () => {
    const ctx = seen.get("context")!;
    expect(ctx.queue).toBe("mail");
    expect(ctx.payloadClass).toBe(WRAPPER);
    const { jobId, enqueuedAt, ...rest } = ctx.activeJob!;
    expect(jobId).toMatch(UUID);
    expect(Math.abs(Date.parse((enqueuedAt as { $date: string }).$date) - Date.now())).toBeLessThan(120_000);
    // executions as Ruby's perform sees it: the payload's 0, plus this run
    expect(rest).toEqual({ jobClass: "ReceiptJob", executions: 1, locale: "de", timezone: "Europe/Berlin", priority: 5 });
    expect(seen.get("queue")?.queue).toBe("high");
  });

  test("a custom serializer fails the job naming it; failures keep the wrapper's bytes for Resque's Retry", () => {
    expect(seen.has("custom")).toBe(false);
    expect(failed.map((f) => [f.queue, f.exception, f.error]).sort()).toEqual([
      ["failing", "ActiveJobError", 'argument 3[0].price uses the serializer "MoneySerializer", which bunworker cannot convert (only ActiveJob\'s built-in serializers are known)'],
      ["failing", "RangeError", "exploded: boom"],
    ]);
    // Resque::Failure.requeue re-enqueues the entry's class and args: the same wrapper, byte for byte.
    expect(failingItems).toHaveLength(2);
    for (const item of failingItems) expect(failedRaw.filter((f) => f.includes(`"payload":${item}`))).toHaveLength(1);
  });
});

describe("enqueueActiveJob -> Ruby's ActiveJob::Base.execute", () => {
  interface Executed {
    received: { args: unknown; kwargs: unknown; job_id: string; locale: string; timezone: string | null; queue_name: string; priority: number | null; executions: number };
    same_bytes: boolean;
    ours: string;
    rubys: string;
    enqueued_at_ok: boolean;
  }
  let out: Executed[];

  beforeAll(async () => {
    const when = new Date(Date.UTC(2026, 11, 2, 14, 0, 0, 123));
    const args = ["basic", "World", 42, 2n ** 64n, 1.5, null, true, [1, "a", []], { k: "v", n: { deep: [when] } }, when, api.GlobalId.of("shop", "User", 7)];
    await api.enqueueActiveJob("RecordJob", args, { queue: "toruby", keywords: { name: "Ada", count: 3, skipped: undefined } });
    await api.enqueueActiveJob("ReceiptJob", ["context"], { queue: "toruby", priority: 5, locale: "de", timezone: "UTC", jobId: "1f0c7a52-0000-4000-8000-000000000001" });
    await api.enqueueActiveJob("RecordJob", [], { queue: "toruby" });
    out = (await runRuby("activejob.rb", ["execute", REDIS_URL, ns, "toruby"])).trim().split("\n").map((l) => JSON.parse(l) as Executed);
  });

  test("Ruby's perform receives each value as the Ruby type ActiveJob would have given it", () => {
    expect(out).toHaveLength(3);
    const time = { Time: "2026-12-02T14:00:00.123000000Z" };
    expect(out[0]!.received.args).toEqual(["basic", "World", 42, { Integer: "18446744073709551616" }, 1.5, null, true, [1, "a", []], { hash: "Hash", entries: [["k", "v"], ["n", { hash: "Hash", entries: [["deep", [time]]] }]] }, time, { User: "7" }]);
    expect(out[0]!.received.kwargs).toEqual({ hash: "Hash", entries: [[":name", "Ada"], [":count", 3]] });
    expect(out[2]!.received.args).toEqual([]);
  });

  test("the job's fields: queue, priority, locale, timezone, job id; a first run (executions 1 inside perform)", () => {
    const { received } = out[1]!;
    expect(received).toMatchObject({ queue_name: "toruby", priority: 5, locale: "de", timezone: "UTC", job_id: "1f0c7a52-0000-4000-8000-000000000001", executions: 1 });
    expect(out[0]!.received).toMatchObject({ queue_name: "toruby", priority: null, locale: "en", timezone: null, executions: 1 });
    expect(out[0]!.received.job_id).toMatch(UUID);
  });

  test("the bytes are the ones ActiveJob itself writes for the same job (enqueued_at in its format)", () => {
    for (const o of out) {
      expect(o.ours).toBe(o.rubys);
      expect(o.same_bytes).toBe(true);
      expect(o.enqueued_at_ok).toBe(true);
    }
  });
});

describe("the example, jobs/welcome-email.ts: Rails -> bunworker -> Rails", () => {
  test("runs WelcomeEmailJob from Rails' bytes, and Ruby performs the AuditLogJob it enqueued", async () => {
    await runRuby("activejob.rb", ["welcome", REDIS_URL, ns]);
    const w = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=default", "--exit-on-complete"], { script: MAIN_WORKER });
    expect(await w.exited).toBe(0);
    expect(w.output()).toMatch(/welcome mail to User #7 on plan pro \(locale en, job [0-9a-f-]{36}, run 1\)/);
    const [audit] = (await runRuby("activejob.rb", ["execute", REDIS_URL, ns, "rails"])).trim().split("\n").map((l) => JSON.parse(l));
    expect(audit.received.args).toEqual(["welcome_email_sent", { User: "7" }]);
    expect(audit.received.kwargs.entries[0][0]).toBe(":at");
    expect(Math.abs(Date.parse(audit.received.kwargs.entries[0][1].Time) - Date.now())).toBeLessThan(120_000);
    expect(audit.same_bytes).toBe(true);
  });
});

// Issue #16, point 6, without Ruby: the edges of ActiveJob's argument format that the real-Ruby test
// (activejob.test.ts) does not reach: Rails 7.1's serializers, broken wrappers, values ActiveJob cannot carry,
// big integers without --use-number, and the wrapper run through the in-process worker against real Redis.
import { describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { activeJobPayload, unwrapActiveJob } from "../src/activejob";
import { fromActiveJob, GlobalId, toActiveJob, type ActiveJobArgument } from "../src/activejob-args";
import { ActiveJobError } from "../src/errors";
import { decodePayload } from "../src/payload";
import { registryWith, startWorker } from "./helpers/in-process";
import { isolate, thrown } from "./helpers/redis";

const WRAPPER = "ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper";
const S = "ActiveJob::Serializers::";
const wrapper = (data: Record<string, unknown>) => JSON.stringify({ class: WRAPPER, args: [{ job_class: "HelloJob", job_id: "j-1", arguments: [], executions: 0, ...data }] });

describe("fromActiveJob", () => {
  test("Rails 7.1's BigDecimal and Range serializers", () => {
    expect(fromActiveJob([{ _aj_serialized: `${S}BigDecimalSerializer`, value: "0.11e1" }])).toEqual(["0.11e1"]);
    const range = { _aj_serialized: `${S}RangeSerializer`, begin: 1, end: { _aj_serialized: `${S}TimeSerializer`, value: "2026-01-01T00:00:00.5Z" }, exclude_end: true };
    expect(fromActiveJob([range])).toEqual([{ begin: 1, end: new Date("2026-01-01T00:00:00.500Z"), excludeEnd: true }]);
  });

  test("a custom serializer or an unreadable built-in value is refused, naming where and what", () => {
    expect(thrown(() => fromActiveJob([1, { a: [{ _aj_serialized: "MoneySerializer", cents: 1 }] }])).message).toBe(
      'argument 2.a[0] uses the serializer "MoneySerializer", which bunworker cannot convert (only ActiveJob\'s built-in serializers are known)',
    );
    expect(thrown(() => fromActiveJob([{ _aj_serialized: `${S}TimeSerializer`, value: "yesterday" }])).message).toBe(`argument 1: ${S}TimeSerializer value "yesterday" is not an ISO 8601 time`);
    expect(thrown(() => fromActiveJob([{ _aj_serialized: `${S}DurationSerializer`, value: "5m" }]))).toBeInstanceOf(ActiveJobError);
    expect(thrown(() => fromActiveJob([{ _aj_globalid: "user-7" }])).message).toBe('not a GlobalID URI: "user-7"');
  });

  test('a "__proto__" key stays an ordinary key, never a prototype', () => {
    const [h] = fromActiveJob([JSON.parse('{"__proto__":{"polluted":true},"_aj_symbol_keys":[]}')]) as [Record<string, unknown>];
    expect(Object.getPrototypeOf(h)).toBe(Object.prototype);
    expect((h as { polluted?: boolean }).polluted).toBeUndefined();
    expect(Object.keys(h)).toEqual(["__proto__"]);
  });

  test("a hash with _aj_globalid beside other keys is a hash, as in Ruby", () => {
    expect(fromActiveJob([{ _aj_globalid: "gid://a/B/1", x: 1 }])).toEqual([{ _aj_globalid: "gid://a/B/1", x: 1 }]);
  });
});

describe("GlobalId", () => {
  test("parses app, model, CGI-unescaped id and params; of() escapes as URI::GID.build", () => {
    const g = new GlobalId("gid://shop/Admin::User/a+b%2Fc%2B%C3%A9?tenant=x");
    expect([g.app, g.model, g.id, g.params, String(g), JSON.stringify(g)]).toEqual(["shop", "Admin::User", "a b/c+é", { tenant: "x" }, g.uri, JSON.stringify(g.uri)]);
    expect(GlobalId.of("shop", "User", "a b/c").uri).toBe("gid://shop/User/a+b%2Fc");
    expect(GlobalId.of("shop", "User", 7n).uri).toBe("gid://shop/User/7");
  });
});

describe("toActiveJob", () => {
  test("hashes get _aj_symbol_keys [], keywords _aj_ruby2_keywords; undefined values are dropped as by JSON", () => {
    expect(toActiveJob([{ a: 1, b: undefined, c: { d: [] } }], { name: "Ada", opt: undefined })).toEqual([
      { a: 1, c: { d: [], _aj_symbol_keys: [] }, _aj_symbol_keys: [] },
      { name: "Ada", _aj_ruby2_keywords: ["name"] },
    ]);
  });

  test("refuses what ActiveJob cannot carry, naming the argument", () => {
    const bad = (args: unknown[]) => thrown(() => toActiveJob(args as ActiveJobArgument[])).message;
    expect(bad([1, undefined])).toBe("argument 2 is undefined, which ActiveJob cannot carry");
    expect(bad([[Number.NaN]])).toBe("argument 1[0] is NaN, which JSON cannot carry");
    expect(bad([{ m: new Map() }])).toBe("argument 1.m is a Map, which ActiveJob cannot carry");
    expect(bad([{ f: () => 1 }])).toBe("argument 1.f is a function, which ActiveJob cannot carry");
    expect(bad([{ _aj_symbol_keys: [] }])).toBe("argument 1 has the key _aj_symbol_keys, which ActiveJob reserves");
    expect(bad([new Date(Number.NaN)])).toBe("argument 1 is an invalid Date");
  });
});

describe("the wrapper", () => {
  test("big integers are exact with --use-number, and the same lossy number as any job's without it", () => {
    const raw = wrapper({ arguments: ["BIG", { n: "ODD", _aj_symbol_keys: [] }] }).replace('"BIG"', "18446744073709551616").replace('"ODD"', "9007199254740993");
    expect(unwrapActiveJob(decodePayload(raw, true)).args).toEqual([18446744073709551616n, { n: 9007199254740993n }]);
    expect(unwrapActiveJob(decodePayload(raw, false)).args).toEqual([18446744073709551616, { n: 9007199254740992 }]);
  });

  test("fields newer Rails adds are ignored; missing optional ones have defaults", () => {
    const job = unwrapActiveJob(decodePayload(wrapper({ scheduled_at: "2026-01-01T00:00:00.123456789Z", enqueued_at: "2026-12-02T13:55:51.123456789Z", executions: 2 }), false));
    expect(job.activeJob).toEqual({ jobClass: "HelloJob", jobId: "j-1", executions: 3, locale: null, timezone: null, priority: null, enqueuedAt: new Date("2026-12-02T13:55:51.123Z") });
  });

  test("a broken wrapper is refused with what is wrong", () => {
    const bad = (raw: string) => thrown(() => unwrapActiveJob(decodePayload(raw, false))).message;
    expect(bad(JSON.stringify({ class: WRAPPER, args: [] }))).toBe("an ActiveJob wrapper takes one job hash as its argument, got 0 argument(s), the first undefined");
    expect(bad(JSON.stringify({ class: WRAPPER, args: [{ arguments: [] }] }))).toBe('the ActiveJob hash has no "job_class" string (got undefined)');
    expect(bad(wrapper({ arguments: "x" }))).toBe('the ActiveJob hash\'s "arguments" must be an array, got string');
  });

  test("activeJobPayload writes ActiveJob 6.1's keys in its order, enqueued_at as Time.now.utc.iso8601", () => {
    const at = new Date(Date.UTC(2026, 11, 2, 13, 55, 51, 999));
    const { queue, jobId, payload } = activeJobPayload("HelloJob", ["World", 2n ** 64n], { queue: "high", priority: 5 }, at);
    expect(queue).toBe("high");
    expect(JSON.stringify(payload, (_k, v: unknown) => (typeof v === "bigint" ? JSON.rawJSON(v.toString()) : v))).toBe(
      `{"class":"${WRAPPER}","args":[{"job_class":"HelloJob","job_id":"${jobId}","provider_job_id":null,"queue_name":"high","priority":5,"arguments":["World",18446744073709551616],"executions":0,"exception_executions":{},"locale":"en","timezone":null,"enqueued_at":"2026-12-02T13:55:51Z"}]}`,
    );
    expect(thrown(() => activeJobPayload("", [])).message).toBe("enqueueActiveJob: the job class must be a non-empty string");
    expect(thrown(() => activeJobPayload("X", [], { queue: "" })).message).toBe("enqueueActiveJob: queue must be a non-empty string");
  });
});

describe("in a worker, against Redis", () => {
  let c: RedisClient;
  let ns: string;
  isolate((client, namespace) => {
    c = client;
    ns = namespace;
  });

  test("an unknown job_class fails naming it, with the wrapper kept; a plain job of the same name is unaffected", async () => {
    const seen: unknown[] = [];
    const registry = registryWith({ HelloJob: (q: string, ...args: never[]) => void seen.push([q, ...args]) });
    const unknown = wrapper({ job_class: "NopeJob" });
    await c.send("RPUSH", [`${ns}queue:q`, unknown, '{"class":"HelloJob","args":[1]}', wrapper({ arguments: ["hi"] })]);
    const w = startWorker(registry, { namespace: ns, queues: ["q"], concurrency: 1, exitOnComplete: true });
    await w.done;
    expect(seen).toEqual([["q", 1], ["q", "hi"]]);
    const [entry] = await c.lrange(`${ns}failed`, 0, -1);
    expect(JSON.parse(entry!)).toMatchObject({ exception: "UnknownJobError", error: 'no job registered for class "NopeJob" (queue "q")', backtrace: [] });
    expect(entry).toContain(`"payload":${unknown}`);
  });
});

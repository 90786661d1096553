// A thrown value -> the fields of a Resque failure entry (reference section 4).
import { describe, expect, test } from "bun:test";
import { JobTimeoutError, MalformedPayloadError, UnknownJobError } from "../src/errors";
import type { RedisClient } from "bun";
import { failureFields, type FailureFields } from "../src/failure";
import { makeKeys, type Keys } from "../src/keys";
import { laneCycle } from "../src/scripts";
import { isolate } from "./helpers/redis";

class PaymentDeclined extends Error {}
class CardError extends PaymentDeclined {}
class Renamed extends Error {
  override name = "CustomName";
}

function throwIt(v: unknown): unknown {
  try {
    throw v;
  } catch (e) {
    return e;
  }
}

const circular: Record<string, unknown> = { id: 7 };
circular.self = circular;
const hostileJson = { toJSON() {
  throw new Error("toJSON refuses");
} };
const hostileEverything = {
  toJSON() {
    throw new Error("toJSON refuses");
  },
  toString() {
    throw new Error("toString refuses");
  },
};
const plainError = new Error("plain");
plainError.name = "LegacyError";

describe("failureFields: Error values", () => {
  test.each([
    { name: "an Error subclass", value: new PaymentDeclined("card declined"), exception: "PaymentDeclined", error: "card declined" },
    { name: "a subclass of a subclass", value: new CardError("expired"), exception: "CardError", error: "expired" },
    { name: "TypeError", value: throwIt(new TypeError("x is not a function")), exception: "TypeError", error: "x is not a function" },
    { name: "RangeError", value: new RangeError("too big"), exception: "RangeError", error: "too big" },
    { name: "Error", value: new Error("boom"), exception: "Error", error: "boom" },
    { name: "an Error with a custom name", value: plainError, exception: "LegacyError", error: "plain" },
    // The class name wins over a name property, as Ruby's exception.class.to_s
    { name: "a subclass that sets another name", value: new Renamed("r"), exception: "Renamed", error: "r" },
    { name: "an anonymous subclass", value: new (class extends Error {})("anon"), exception: "Error", error: "anon" },
    { name: "AggregateError", value: new AggregateError([new Error("a")], "several"), exception: "AggregateError", error: "several" },
    { name: "an empty message", value: new Error(), exception: "Error", error: "" },
    { name: "a multi-line message", value: new Error("line 1\nline 2 \"quoted\""), exception: "Error", error: 'line 1\nline 2 "quoted"' },
  ])("$name", ({ value, exception, error }) => {
    const f = failureFields(value);
    expect(f.exception).toBe(exception);
    expect(f.error).toBe(error);
    expect(Array.isArray(f.backtrace)).toBe(true);
    for (const frame of f.backtrace) expect(typeof frame).toBe("string");
  });

  test("the backtrace holds the job's own frames, trimmed, as strings", () => {
    function chargeCard(): never {
      throw new PaymentDeclined("declined");
    }
    const f = failureFields(throwIt((() => {
      try {
        chargeCard();
      } catch (e) {
        return e;
      }
    })()));
    expect(f.backtrace.length).toBeGreaterThan(0);
    expect(f.backtrace.length).toBeLessThanOrEqual(50);
    expect(f.backtrace[0]).toContain("chargeCard");
    expect(f.backtrace[0]).toContain("failure.test.ts");
    for (const frame of f.backtrace) expect(frame).toBe(frame.trim());
  });

  test("a deep stack is capped at 50 frames", () => {
    const deep = (n: number): number => {
      if (n === 0) throw new Error("deep");
      const below = deep(n - 1); // not a tail call: JSC would drop the frames of proper tail calls
      return below + 1;
    };
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 200;
    let e: unknown;
    try {
      deep(120);
    } catch (x) {
      e = x;
    } finally {
      Error.stackTraceLimit = limit;
    }
    expect((e as Error).stack?.split("\n").length).toBeGreaterThan(100);
    expect(failureFields(e).backtrace).toHaveLength(50);
  });

  test("an Error whose stack is missing or not a string has an empty backtrace", () => {
    expect(failureFields(Object.assign(new Error("a"), { stack: undefined })).backtrace).toEqual([]);
    expect(failureFields(Object.assign(new Error("b"), { stack: 42 })).backtrace).toEqual([]);
  });

  test.each([
    { name: "MalformedPayloadError", e: new MalformedPayloadError("bad") },
    { name: "UnknownJobError", e: new UnknownJobError("who") },
    { name: "JobTimeoutError", e: new JobTimeoutError("slow") },
  ])("bunworker's own $name has an empty backtrace", ({ e }) => {
    const f = failureFields(e);
    expect(f.exception).toBe(e.name);
    expect(f.backtrace).toEqual([]);
  });
});

describe("failureFields: values that are not Errors", () => {
  test.each([
    { name: "a string", value: "a plain string", exception: "String", error: "a plain string" },
    { name: "an empty string", value: "", exception: "String", error: "" },
    { name: "a number", value: 42, exception: "Number", error: "42" },
    { name: "NaN", value: Number.NaN, exception: "Number", error: "null" },
    { name: "a boolean", value: false, exception: "Boolean", error: "false" },
    { name: "a symbol", value: Symbol("sym"), exception: "Symbol", error: "Symbol(sym)" },
    { name: "null", value: null, exception: "null", error: "a job threw null" },
    { name: "undefined", value: undefined, exception: "undefined", error: "a job threw undefined" },
    { name: "a plain object", value: { code: 7, why: "no" }, exception: "Object", error: '{"code":7,"why":"no"}' },
    { name: "an array", value: [1, "two"], exception: "Array", error: '[1,"two"]' },
    { name: "a class instance", value: new (class Receipt {
      total = 3;
    })(), exception: "Receipt", error: '{"total":3}' },
    { name: "an object with a bigint", value: { n: 2n ** 70n }, exception: "Object", error: '{"n":"1180591620717411303424"}' },
    { name: "an object whose toJSON throws", value: hostileJson, exception: "Object", error: "[object Object]" },
    { name: "an object whose toJSON and toString throw", value: hostileEverything, exception: "Object", error: "[object Object]" },
    { name: "a circular object", value: circular, exception: "Object", error: "[object Object]" },
    { name: "a function", value: function namedFn() {}, exception: "Function", error: "function namedFn() {}" },
    { name: "a bigint", value: 1n, exception: "BigInt", error: "1" },
    { name: "a null-prototype object", value: Object.assign(Object.create(null), { a: 1 }), exception: "Object", error: '{"a":1}' },
    { name: "an Error whose message getter throws", value: Object.defineProperty(new Error("x"), "message", { get() { throw new Error("getter"); } }), exception: "Error", error: "a job threw a value that cannot be inspected" },
    { name: "a Proxy whose traps throw", value: new Proxy({}, { get() { throw new Error("trap"); }, getPrototypeOf() { throw new Error("trap"); } }), exception: "Error", error: "a job threw a value that cannot be inspected" },
  ])("$name", ({ value, exception, error }) => {
    const f = failureFields(value);
    expect(f).toEqual({ exception, error, backtrace: [] });
  });
});

// The entry is built in one place, failureEntry() in lua/include-record.lua: these run it through a real lane
// cycle (a job of payload {} fetched into `worker`, then failed with `fields`) and read back what Redis holds.
let c: RedisClient;
let k: Keys;
isolate((client, ns) => {
  c = client;
  k = makeKeys(ns);
});

async function failureEntry(fields: FailureFields, worker: string, queue: string): Promise<string> {
  await c.send("RPUSH", [k.queue(queue), "{}"]);
  await c.hset(k.beats, "host:1", "1");
  const base = { proc: "host:1", lane: 0, runAt: "2026-11-27T10:00:00Z", failedAt: "x" };
  await laneCycle(c, k, { ...base, call: 1, ops: [], fill: [{ id: worker, slot: 0 }], queues: [queue] });
  await laneCycle(c, k, { ...base, call: 2, ops: [{ kind: "ack", id: worker, slot: 0, token: "1", outcome: "fail", failure: fields, queue, raw: "{}" }], fill: [], queues: [] });
  return (await c.lindex(k.failed, 0)) as string;
}

describe("the failure entry (failureEntry in include-record.lua)", () => {
  test("completes a valid failure entry with Resque's key order", async () => {
    const raw = await failureEntry(failureFields(new PaymentDeclined("card \"declined\"\n\u2028 ünï")), "host:1:high,low:0", "high");
    const entry = JSON.parse(raw);
    expect(Object.keys(entry)).toEqual(["failed_at", "payload", "exception", "error", "backtrace", "worker", "queue"]);
    expect(entry.exception).toBe("PaymentDeclined");
    expect(entry.error).toBe('card "declined"\n\u2028 ünï');
    expect(entry.worker).toBe("host:1:high,low:0");
    expect(entry.queue).toBe("high");
    expect(Array.isArray(entry.backtrace)).toBe(true);
    expect(raw).toStartWith('{"failed_at":"x","payload":{},"exception":"PaymentDeclined","error":');
    expect(raw).toEndWith(',"worker":"host:1:high,low:0","queue":"high"}');
  });

  test.each([
    { name: "null", value: null },
    { name: "undefined", value: undefined },
    { name: "a string", value: "s" },
    { name: "0", value: 0 },
    { name: "a circular object", value: circular },
    { name: "a hostile object", value: hostileEverything },
    { name: "a symbol", value: Symbol("x") },
    { name: "an Error", value: new Error("") },
  ])("is valid JSON for a thrown $name", async ({ value }) => {
    const entry = JSON.parse(await failureEntry(failureFields(value), "w", "q"));
    expect(typeof entry.exception).toBe("string");
    expect(typeof entry.error).toBe("string");
    expect(entry.backtrace).toBeArray();
  });

  test("lone surrogates in a message still give valid JSON", async () => {
    const entry = JSON.parse(await failureEntry(failureFields(new Error("bad \ud800 half")), "w", "q"));
    expect(entry.error).toBe("bad \ud800 half");
  });
});

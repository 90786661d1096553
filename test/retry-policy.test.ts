// Issue #17 point 4 (groundwork): retry decisions with resque-retry's semantics (reference 5.2).
import { expect, test } from "bun:test";
import { checkPolicy, decide, DEFAULT_BACKOFF } from "../src/retry-policy";
import { thrown } from "./helpers/redis";

class NetError extends Error {}
class TimeoutNetError extends NetError {}

test("the limit: default 1; 0 never; negative forever; reached when attempt >= limit", () => {
  expect(decide({}, 0, "Error", new Error())).toEqual({ retry: true, delaySeconds: 0 });
  expect(decide({}, 1, "Error", new Error())).toEqual({ retry: false, why: "limit" });
  expect(decide({ limit: 0 }, 0, "Error", new Error())).toEqual({ retry: false, why: "limit" });
  expect(decide({ limit: -1 }, 10_000, "Error", new Error()).retry).toBe(true);
  expect(decide({ limit: 3 }, 2, "Error", new Error()).retry).toBe(true);
  expect(decide({ limit: 3 }, 3, "Error", new Error()).retry).toBe(false);
});

test("delays by attempt, the last one repeating; exponential backoff with its default list and jitter truncated to seconds", () => {
  expect([0, 1, 2, 3].map((a) => decide({ limit: 5, delays: [5, 30, 120] }, a, "E", null))).toEqual([5, 30, 120, 120].map((d) => ({ retry: true, delaySeconds: d })));
  const backoff = { backoff: {} };
  expect(DEFAULT_BACKOFF.map((_, a) => decide(backoff, a, "E", null))).toEqual(DEFAULT_BACKOFF.map((d) => ({ retry: true, delaySeconds: d })));
  expect(decide(backoff, DEFAULT_BACKOFF.length, "E", null)).toEqual({ retry: false, why: "limit" });
  const jittered = { backoff: { strategy: [10, 100], multiplierMin: 0.5, multiplierMax: 1.5 } };
  expect(decide(jittered, 1, "E", null, () => 0)).toEqual({ retry: true, delaySeconds: 50 });
  expect(decide(jittered, 1, "E", null, () => 0.999)).toEqual({ retry: true, delaySeconds: 149 });
});

test("which errors retry: by class name (subclasses included) or predicate; fatal errors never", () => {
  const p = { limit: 5, retryOn: ["NetError"] };
  expect(decide(p, 0, "TimeoutNetError", new TimeoutNetError()).retry).toBe(true);
  expect(decide(p, 0, "RangeError", new RangeError()).retry).toBe(false);
  expect(decide({ limit: 5, retryOn: [(e) => (e as Error)?.message === "busy"] }, 0, "Error", new Error("busy")).retry).toBe(true);
  expect(decide({ limit: 5, fatal: ["RangeError"] }, 0, "RangeError", new RangeError())).toEqual({ retry: false, why: "not-retryable" });
  expect(decide({ limit: 5, fatal: ["RangeError"] }, 0, "TypeError", new TypeError()).retry).toBe(true);
});

test("policies resque-retry refuses are refused with one line", () => {
  expect(thrown(() => checkPolicy("Pay", { retryOn: ["A"], fatal: ["B"] })).message).toBe("retry policy of Pay: retryOn and fatal exclude each other (resque-retry's AmbiguousRetryStrategyException)");
  expect(thrown(() => checkPolicy("Pay", { backoff: { multiplierMin: 2, multiplierMax: 1 } })).message).toMatch(/multiplierMin \(2\) is greater/);
  expect(thrown(() => checkPolicy("Pay", { delays: [-1] })).message).toMatch(/delays must be seconds >= 0/);
  expect(() => checkPolicy("Pay", { limit: 3, delays: [1, 2] })).not.toThrow();
});

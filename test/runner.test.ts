// Issue #8: the Runner on its own. One fetched item in, exactly one outcome out (ok, fail, bad), or none for a
// job abandoned at the shutdown deadline. No Redis: the runner never talks to it.
import { describe, expect, test } from "bun:test";
import { createConsola } from "consola/core";
import type { JobContext } from "../src/registry";
import { Runner, type Finished } from "../src/runner";
import { registryWith } from "./helpers/in-process";
import { waitFor } from "./helpers/redis";

const log = createConsola({ level: 0, reporters: [{ log: () => {} }] });

/** A job that waits for its AbortSignal and rejects with its reason; `seen` records the reason. */
const aborted: unknown[] = [];
const registry = registryWith({
  Sync: () => "done",
  Async: async () => {
    await Promise.resolve();
  },
  Throw: () => {
    throw new RangeError("thrown");
  },
  Reject: () => Promise.reject(new TypeError("rejected")),
  ThrowString: () => {
    throw "a string";
  },
  Never: () => new Promise(() => {}),
  UntilAborted: function (this: JobContext) {
    return new Promise((_, reject) => this.signal.addEventListener("abort", () => (aborted.push(this.signal.reason), reject(this.signal.reason))));
  },
});

function runner(jobTimeoutMs = 0): Runner {
  return new Runner({ registry, useNumber: false, jobTimeoutMs, log });
}

/** Runs one item; `outcomes` collects every report (there must be exactly one, or none after abandon). */
function run(r: Runner, raw: string, notUtf8 = false) {
  const outcomes: Finished[] = [];
  const job = r.run("host:1:q:0", "q", notUtf8, raw, (f) => outcomes.push(f));
  return { job, outcomes };
}

const payload = (cls: string) => JSON.stringify({ class: cls, args: [] });

describe("outcomes", () => {
  test.each<{ name: string; raw: string; notUtf8?: boolean; outcome: Finished["outcome"]; exception?: string; error?: RegExp }>([
    { name: "a synchronous return", raw: payload("Sync"), outcome: "ok" },
    { name: "a promise that resolves", raw: payload("Async"), outcome: "ok" },
    { name: "a throw", raw: payload("Throw"), outcome: "fail", exception: "RangeError", error: /^thrown$/ },
    { name: "a rejection", raw: payload("Reject"), outcome: "fail", exception: "TypeError", error: /^rejected$/ },
    { name: "a thrown string", raw: payload("ThrowString"), outcome: "fail", exception: "String", error: /^a string$/ },
    { name: "an unknown class", raw: payload("Nobody"), outcome: "fail", exception: "UnknownJobError", error: /"Nobody".*"q"/ },
    { name: "bytes flagged not UTF-8", raw: payload("Sync"), notUtf8: true, outcome: "bad", exception: "MalformedPayloadError", error: /UTF-8/ },
    { name: "malformed JSON", raw: "{not json", outcome: "bad", exception: "MalformedPayloadError" },
    { name: "a JSON array", raw: "[1,2]", outcome: "bad", exception: "MalformedPayloadError" },
    { name: "no class", raw: '{"args":[]}', outcome: "bad", exception: "MalformedPayloadError" },
    { name: "args not an array", raw: '{"class":"Sync","args":{"a":1}}', outcome: "bad", exception: "MalformedPayloadError" },
  ])("$name -> $outcome", async ({ raw, notUtf8, outcome, exception, error }) => {
    const { job, outcomes } = run(runner(), raw, notUtf8);
    await waitFor(() => outcomes.length > 0, 5000, "the outcome");
    expect(job.isSettled).toBe(true);
    expect(outcomes).toHaveLength(1);
    const f = outcomes[0] as Finished;
    expect(f.outcome).toBe(outcome);
    if (f.outcome === "fail" || f.outcome === "bad") {
      expect(f.failure.exception).toBe(exception as string);
      if (error) expect(f.failure.error).toMatch(error);
      expect(Array.isArray(f.failure.backtrace)).toBe(true);
    }
  });

  test("a synchronous job is done before run() returns; an async one is not", () => {
    expect(run(runner(), payload("Sync")).outcomes).toEqual([{ outcome: "ok" }]);
    const slow = run(runner(), payload("Async"));
    expect(slow.outcomes).toEqual([]);
    expect(slow.job.isSettled).toBe(false);
  });

  test("the job gets the queue first, then its args, and `this` the context", () => {
    const seen: unknown[] = [];
    const r = new Runner({
      registry: registryWith({ Ctx: function (this: JobContext, q: string, a: number, b: string) {
        seen.push(q, a, b, this.queue, this.workerId, this.payload.extra);
      } }),
      useNumber: false, jobTimeoutMs: 0, log,
    });
    const outcomes: Finished[] = [];
    r.run("host:1:mail:3", "mail", false, '{"class":"Ctx","args":[7,"x"],"extra":"e"}', (f) => outcomes.push(f));
    expect(outcomes).toEqual([{ outcome: "ok" }]);
    expect(seen).toEqual(["mail", 7, "x", "mail", "host:1:mail:3", "e"]);
  });
});

describe("job timeout", () => {
  test("a job past --job-timeout fails with JobTimeoutError and its AbortSignal fires", async () => {
    aborted.length = 0;
    const { job, outcomes } = run(runner(20), payload("UntilAborted"));
    await waitFor(() => outcomes.length > 0, 5000, "the timeout");
    expect(job.isSettled).toBe(true);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ outcome: "fail", failure: { exception: "JobTimeoutError", backtrace: [] } });
    expect(aborted).toHaveLength(1);
    expect((aborted[0] as Error).name).toBe("JobTimeoutError");
  });

  test("a job that never settles is freed by the timeout", async () => {
    const { outcomes } = run(runner(20), payload("Never"));
    await waitFor(() => outcomes.length > 0, 5000, "the timeout");
    expect(outcomes.map((f) => f.outcome === "fail" && f.failure.exception)).toEqual(["JobTimeoutError"]);
  });

  test("without a timeout (0) nothing ends a job that never settles", async () => {
    // A witness runner with a timeout shows that the time the other one would have needed has passed.
    const { job, outcomes } = run(runner(0), payload("Never"));
    const witness = run(runner(20), payload("Never"));
    await waitFor(() => witness.outcomes.length > 0, 5000, "the witness's timeout");
    expect(outcomes).toEqual([]);
    expect(job.isSettled).toBe(false);
    job.abandon(new Error("test over"));
  });
});

describe("abandon()", () => {
  test("fires the AbortSignal with the reason and reports nothing, not even the rejection that follows", async () => {
    aborted.length = 0;
    const { job, outcomes } = run(runner(20), payload("UntilAborted"));
    const reason = new Error("shutting down");
    reason.name = "ShutdownError";
    job.abandon(reason);
    expect(aborted).toEqual([reason]);
    expect(job.isSettled).toBe(true);
    // the timeout that was armed would report JobTimeoutError: a witness with the same timeout outlasts it
    const witness = run(runner(20), payload("Never"));
    await waitFor(() => witness.outcomes.length > 0, 5000, "the witness's timeout");
    expect(outcomes).toEqual([]);
  });

  test("a job that resolves after abandon() reports nothing", async () => {
    let finish: () => void = () => {};
    const held = new Promise<void>((r) => (finish = r));
    const r = new Runner({ registry: registryWith({ Held: () => held }), useNumber: false, jobTimeoutMs: 0, log });
    const outcomes: Finished[] = [];
    const job = r.run("host:1:q:0", "q", false, payload("Held"), (f) => outcomes.push(f));
    job.abandon(new Error("deadline"));
    finish();
    // Reactions run in the order they were attached: the runner's own ran before this one.
    await held.then(() => {});
    expect(outcomes).toEqual([]);
  });
});

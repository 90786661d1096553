// Issue #16, point 2: Resque's job hooks on jobs declared with defineJob, run by a real worker against a real
// Redis: the order of before/around/after, a before hook's DontPerform (a skip, counted as processed, not a
// failure), a failing after hook (a failure), onFailure (sees the error; its own throw never hides it), and a
// hook that never settles (bounded by --job-timeout, or handed back at the shutdown deadline).
import { enqueueAtWith } from "../src/delayed";
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { pushJobs } from "../src/enqueue";
import { DontPerform, type AfterHook, type AroundHook, type BeforeHook, type FailureHook } from "../src/hooks";
import { makeKeys } from "../src/keys";
import { Registry } from "../src/registry";
import { defineJob, type JobWriter } from "../src/typed-job";
import { startWorker, type InProcessWorker } from "./helpers/in-process";
import { isolate, waitFor } from "./helpers/redis";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

const writer = (): JobWriter => ({ enqueueMany: (q, p) => pushJobs(c, makeKeys(ns), q, p), enqueueAt: (when, job) => enqueueAtWith(c, makeKeys(ns), when, job) });
const stat = async (k: string) => Number((await c.get(`${ns}stat:${k}`)) ?? 0);
const failures = async () => (await c.lrange(`${ns}failed`, 0, -1)).map((f) => JSON.parse(f) as { exception: string; error: string; payload: unknown; queue: string; backtrace: string[] });

type Many<F> = F | F[];
const many = <F>(h: Many<F> | undefined): F[] => (h === undefined ? [] : Array.isArray(h) ? h : [h]);
interface Hooks {
  before?: Many<BeforeHook<[number]>>;
  around?: Many<AroundHook<[number]>>;
  after?: Many<AfterHook<[number]>>;
  onFailure?: Many<FailureHook<[number]>>;
}

/** One job J(n) with the given hooks, added on its handle in order; `events` records what ran. Runs J(7) once. */
async function runOne(hooks: Hooks, job: (n: number) => unknown, settings: Record<string, unknown> = {}) {
  const events: string[] = [];
  const registry = new Registry();
  const J = defineJob(registry, writer(), "J", { queue: "hooks" }, async (_ctx, n: number) => {
    events.push(`perform ${n}`);
    await job(n);
  });
  for (const h of many(hooks.before)) J.before(h);
  for (const h of many(hooks.around)) J.around(h);
  for (const h of many(hooks.after)) J.after(h);
  for (const h of many(hooks.onFailure)) J.onFailure(h);
  const w = startWorker(registry, { namespace: ns, queues: ["hooks"], concurrency: 2, ...settings });
  await J.enqueue(7);
  return { events, w };
}

async function settle(w: InProcessWorker, processed = 1) {
  await waitFor(async () => (await stat("processed")) >= processed, 10_000, "the job's outcome");
  w.launcher.stop();
  await w.done;
}

test("a successful job: before, around (nested, first outermost), perform, after, in that order; no failure hook", async () => {
  const ev: string[] = [];
  const { events, w } = await runOne(
    {
      before: [(_c, n) => void ev.push(`before1 ${n}`), (_c, n) => void ev.push(`before2 ${n}`)],
      around: [
        async (_c, perform, n) => (ev.push(`around1:before ${n}`), await perform(), ev.push("around1:after")),
        async (_c, perform) => (ev.push("around2:before"), await perform(), ev.push("around2:after")),
      ],
      after: (_c, n) => void ev.push(`after ${n}`),
      onFailure: () => void ev.push("onFailure"),
    },
    (n) => void ev.push(`job ${n}`),
  );
  await settle(w);
  expect(events).toEqual(["perform 7"]);
  expect(ev).toEqual(["before1 7", "before2 7", "around1:before 7", "around2:before", "job 7", "around2:after", "around1:after", "after 7"]);
  expect([await stat("processed"), await stat("failed")]).toEqual([1, 0]);
});

test("a before hook's DontPerform skips the job: no around, perform, after or onFailure; processed, not failed", async () => {
  const ev: string[] = [];
  const { events, w } = await runOne(
    {
      before: [() => void ev.push("before1"), () => { throw new DontPerform("not today"); }, () => void ev.push("before3")],
      around: async (_c, perform) => (ev.push("around"), await perform()),
      after: () => void ev.push("after"),
      onFailure: () => void ev.push("onFailure"),
    },
    () => {},
  );
  await settle(w);
  expect(events).toEqual([]);
  expect(ev).toEqual(["before1"]);
  expect([await stat("processed"), await stat("failed")]).toEqual([1, 0]);
  expect(await failures()).toEqual([]);
  expect(w.logs.some((l) => /skipped by a before hook: not today/.test(l))).toBe(true);
});

test("a failing job: onFailure sees the error, after hooks do not run, the failure entry has the job's error", async () => {
  const ev: string[] = [];
  const { w } = await runOne(
    {
      before: () => void ev.push("before"),
      around: async (_c, perform) => (ev.push("around:before"), await perform(), ev.push("around:after")),
      after: () => void ev.push("after"),
      onFailure: [(e, _c, n) => void ev.push(`onFailure1 ${(e as Error).name}: ${(e as Error).message} ${n}`), (e) => void ev.push(`onFailure2 ${(e as Error).name}`)],
    },
    () => {
      throw new RangeError("card declined");
    },
  );
  await settle(w);
  expect(ev).toEqual(["before", "around:before", "onFailure1 RangeError: card declined 7", "onFailure2 RangeError"]);
  const [f] = await failures();
  expect([f?.exception, f?.error, f?.queue, f?.payload]).toEqual(["RangeError", "card declined", "hooks", { class: "J", args: [7] }]);
  // the backtrace is the job's frames, cut above the hooks and the runner, as Resque cuts above job.rb
  expect(f?.backtrace[0]).toMatch(/hooks\.test\.ts/);
  expect(f?.backtrace.filter((l) => /[/\\]src[/\\]/.test(l))).toEqual([]);
  expect([await stat("processed"), await stat("failed")]).toEqual([1, 1]);
});

test("a failing after hook is a failure (the job had run), and onFailure sees the after hook's error", async () => {
  const ev: string[] = [];
  const { events, w } = await runOne(
    {
      after: () => {
        throw new TypeError("after broke");
      },
      onFailure: (e) => void ev.push(`onFailure ${(e as Error).message}`),
    },
    () => {},
  );
  await settle(w);
  expect(events).toEqual(["perform 7"]);
  expect(ev).toEqual(["onFailure after broke"]);
  expect((await failures()).map((f) => [f.exception, f.error])).toEqual([["TypeError", "after broke"]]);
  expect(await stat("failed")).toBe(1);
});

test("a throwing onFailure hook never hides the original failure; the next onFailure hook still runs", async () => {
  const ev: string[] = [];
  const { w } = await runOne(
    {
      onFailure: [
        () => {
          throw new Error("hook exploded");
        },
        (e) => void ev.push(`second saw ${(e as Error).message}`),
      ],
    },
    () => Promise.reject(new SyntaxError("the original")),
  );
  await settle(w);
  expect(ev).toEqual(["second saw the original"]);
  expect((await failures()).map((f) => [f.exception, f.error])).toEqual([["SyntaxError", "the original"]]);
  expect(w.logs.some((l) => /onFailure hook threw \(Error: hook exploded\)/.test(l))).toBe(true);
});

test("a before hook that throws anything else fails the job without running it", async () => {
  const { events, w } = await runOne({ before: () => Promise.reject(new Error("no db")) }, () => {});
  await settle(w);
  expect(events).toEqual([]);
  expect((await failures()).map((f) => [f.exception, f.error])).toEqual([["Error", "no db"]]);
});

test("DontPerform thrown by the job itself (not a before hook) is a failure, as in Resque", async () => {
  const { w } = await runOne({ after: () => {} }, () => {
    throw new DontPerform("too late");
  });
  await settle(w);
  expect((await failures()).map((f) => [f.exception, f.error])).toEqual([["DontPerform", "too late"]]);
});

test("an around hook that never calls perform skips the job; the after hooks still run (Resque's order)", async () => {
  const ev: string[] = [];
  const { events, w } = await runOne({ around: () => void ev.push("around"), after: () => void ev.push("after") }, () => {});
  await settle(w);
  expect(events).toEqual([]);
  expect(ev).toEqual(["around", "after"]);
  expect([await stat("processed"), await stat("failed")]).toEqual([1, 0]);
});

test("a before hook that never settles: failed with JobTimeoutError at --job-timeout, its signal fired, the slot freed", async () => {
  let aborted: unknown = null;
  const { events, w } = await runOne({ before: (ctx) => new Promise(() => ctx.signal.addEventListener("abort", () => (aborted = ctx.signal.reason))) }, () => {}, { jobTimeout: 0.3 });
  await settle(w);
  expect(events).toEqual([]);
  expect((await failures()).map((f) => f.exception)).toEqual(["JobTimeoutError"]);
  expect((aborted as Error | null)?.name).toBe("JobTimeoutError");
});

test("an around hook that never settles, at the shutdown deadline: the job goes back to the front of its queue", async () => {
  const { w } = await runOne({ around: () => new Promise(() => {}) }, () => {}, { shutdownTimeout: 0.3 });
  await waitFor(async () => (await c.llen(`${ns}queue:hooks`)) === 0 && (await c.keys(`${ns}worker:*`)).some((k) => !/:started$/.test(k)), 5000, "the job to be running");
  w.launcher.stop();
  await w.done;
  expect(await c.lrange(`${ns}queue:hooks`, 0, -1)).toEqual(['{"class":"J","args":[7]}']);
  expect([await stat("processed"), await stat("failed")]).toEqual([0, 0]);
});

// Every hook point, throwing or never settling: the job is never lost. A throw is a failure entry with that
// error (a throwing onFailure: the job's own error); a hook that never settles is bounded like the job itself:
// JobTimeoutError at --job-timeout, or back to the front of its queue at the shutdown deadline.
const never = () => new Promise<void>(() => {});
const boom = () => {
  throw new EvalError("hook threw");
};
const points: { point: string; hooks: (h: () => unknown) => Hooks; jobFails?: boolean }[] = [
  { point: "before", hooks: (h) => ({ before: () => h() }) },
  { point: "around (before perform)", hooks: (h) => ({ around: async () => void (await h()) }) },
  { point: "around (after perform)", hooks: (h) => ({ around: async (_c, perform) => void (await perform(), await h()) }) },
  { point: "after", hooks: (h) => ({ after: () => h() }) },
  { point: "onFailure", hooks: (h) => ({ onFailure: () => h() }), jobFails: true },
];
const failing = (jobFails?: boolean) => () => {
  if (jobFails) throw new URIError("the job failed");
};

test.each(points)("a throwing $point hook: one failure entry, never lost", async ({ hooks, jobFails }) => {
  const { w } = await runOne(hooks(boom), failing(jobFails));
  await settle(w);
  expect((await failures()).map((f) => [f.exception, f.error])).toEqual([jobFails ? ["URIError", "the job failed"] : ["EvalError", "hook threw"]]);
  expect([await stat("processed"), await stat("failed"), await c.llen(`${ns}queue:hooks`)]).toEqual([1, 1, 0]);
});

test.each(points)("a never-settling $point hook: JobTimeoutError at --job-timeout", async ({ hooks, jobFails }) => {
  const { w } = await runOne(hooks(never), failing(jobFails), { jobTimeout: 0.2 });
  await settle(w);
  expect((await failures()).map((f) => f.exception)).toEqual(["JobTimeoutError"]);
});

test.each(points)("a never-settling $point hook at the shutdown deadline: handed back to its queue", async ({ hooks, jobFails }) => {
  const { w } = await runOne(hooks(never), failing(jobFails), { shutdownTimeout: 0.2 });
  await waitFor(async () => (await c.llen(`${ns}queue:hooks`)) === 0 && (await c.keys(`${ns}worker:*`)).some((k) => !/:started$/.test(k)), 5000, "the job to be running");
  w.launcher.stop();
  await w.done;
  expect(await c.lrange(`${ns}queue:hooks`, 0, -1)).toEqual(['{"class":"J","args":[7]}']);
  expect([await stat("processed"), await stat("failed")]).toEqual([0, 0]);
});

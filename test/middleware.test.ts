// Issue #16, point 3: middleware around every job (use(async (ctx, next) => ...)), run by a real worker against
// a real Redis: wrapping order = order of use(); what ctx carries; a middleware can stop a job (processed, not
// failed), fail it (throw before or after next()), or swallow its error; one that never settles is bounded by
// --job-timeout or handed back at the shutdown deadline; one that does not await next() cannot free the slot
// under a running job.
import { enqueueAtWith } from "../src/delayed";
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { pushJobs } from "../src/enqueue";
import type { JobContext } from "../src/job-context";
import { makeKeys } from "../src/keys";
import { MiddlewareStack, type Middleware } from "../src/middleware";
import { Registry } from "../src/registry";
import { defineJob } from "../src/typed-job";
import { startWorker } from "./helpers/in-process";
import { isolate, waitFor } from "./helpers/redis";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

const stat = async (k: string) => Number((await c.get(`${ns}stat:${k}`)) ?? 0);
const failures = async () => (await c.lrange(`${ns}failed`, 0, -1)).map((f) => JSON.parse(f) as { exception: string; error: string });
const stack = (...mws: Middleware[]) => {
  const s = new MiddlewareStack();
  for (const m of mws) s.use(m);
  return s;
};

/** A registry with a typed job T(n) and a register()ed job Old(n); both record into `ran`. */
function jobs(ran: string[], body: (n: number) => unknown = () => {}) {
  const registry = new Registry();
  const T = defineJob(registry, { enqueueMany: (q, p) => pushJobs(c, makeKeys(ns), q, p), enqueueAt: (when, job) => enqueueAtWith(c, makeKeys(ns), when, job) }, "T", { queue: "mw" }, async (_ctx, n: number) => {
    ran.push(`T ${n}`);
    await body(n);
  });
  registry.register("Old", (_q: string, n: number) => void ran.push(`Old ${n}`));
  return { registry, T };
}

async function stopAfter(w: ReturnType<typeof startWorker>, processed: number) {
  await waitFor(async () => (await stat("processed")) >= processed, 10_000, `${processed} processed`);
  w.launcher.stop();
  await w.done;
}

test("middleware wraps every job (typed and register()ed) in use() order, the first outermost, and sees the job's ctx", async () => {
  const ran: string[] = [];
  const seen: Record<string, unknown>[] = [];
  const { registry, T } = jobs(ran);
  const outer: Middleware = async (ctx, next) => {
    ran.push(`outer:before ${ctx.className}`);
    ctx.log.info("traced", { requestId: "r-1" });
    await next();
    ran.push(`outer:after ${ctx.className}`);
  };
  const inner: Middleware = async (ctx: JobContext, next) => {
    seen.push({ className: ctx.className, queue: ctx.queue, args: ctx.args, raw: ctx.raw, payload: ctx.payload, attempt: ctx.attempt, signal: ctx.signal instanceof AbortSignal, workerId: ctx.workerId });
    ran.push(`inner:before ${ctx.className}`);
    await next();
    ran.push(`inner:after ${ctx.className}`);
  };
  const w = startWorker(registry, { namespace: ns, queues: ["mw"], concurrency: 1 }, { middleware: stack(outer, inner) });
  await T.enqueue(1);
  await stopAfter(w, 1);
  await c.rpush(`${ns}queue:mw`, '{"class":"Old","args":[2],"meta":"x"}');
  const w2 = startWorker(registry, { namespace: ns, queues: ["mw"], concurrency: 1 }, { middleware: stack(outer, inner) });
  await stopAfter(w2, 2);
  expect(ran).toEqual([
    "outer:before T", "inner:before T", "T 1", "inner:after T", "outer:after T",
    "outer:before Old", "inner:before Old", "Old 2", "inner:after Old", "outer:after Old",
  ]);
  expect(seen[0]).toMatchObject({ className: "T", queue: "mw", args: [1], raw: '{"class":"T","args":[1]}', attempt: 1, signal: true });
  expect(seen[1]).toMatchObject({ className: "Old", args: [2], raw: '{"class":"Old","args":[2],"meta":"x"}', payload: { class: "Old", args: [2], meta: "x" } });
  expect(String(seen[0]?.workerId)).toMatch(/:mw:0\./);
  // the per-job logger tags the line with the job's class, queue and worker
  expect(w.logs.some((l) => l.startsWith("info: traced") && /"requestId":"r-1"/.test(l) && /"job":"T","queue":"mw","worker":".*:mw:0\./.test(l))).toBe(true);
  expect(await stat("failed")).toBe(0);
});

test("a middleware that returns without next() stops the job: not run, processed, not failed", async () => {
  const ran: string[] = [];
  const { registry, T } = jobs(ran);
  const w = startWorker(registry, { namespace: ns, queues: ["mw"], concurrency: 1 }, { middleware: stack(async (ctx) => void ran.push(`stopped ${ctx.args[0]}`)) });
  await T.enqueue(5);
  await stopAfter(w, 1);
  expect(ran).toEqual(["stopped 5"]);
  expect([await stat("processed"), await stat("failed"), await c.llen(`${ns}failed`)]).toEqual([1, 0, 0]);
});

test("a middleware that throws (synchronously, or before next()) fails the job without running it; after next(), the job ran and still fails", async () => {
  const ran: string[] = [];
  const { registry, T } = jobs(ran);
  const mw: Middleware = (ctx, next) => {
    if (ctx.args[0] === 0) throw new SyntaxError("a synchronous throw");
    return (async () => {
      if (ctx.args[0] === 1) throw new RangeError("refused before");
      await next();
      throw new TypeError("broke after");
    })();
  };
  const w = startWorker(registry, { namespace: ns, queues: ["mw"], concurrency: 1 }, { middleware: stack(mw) });
  await T.enqueueMany([[0], [1], [2]]);
  await stopAfter(w, 3);
  expect(ran).toEqual(["T 2"]);
  expect((await failures()).map((f) => [f.exception, f.error])).toEqual([["SyntaxError", "a synchronous throw"], ["RangeError", "refused before"], ["TypeError", "broke after"]]);
});

test("a middleware sees the job's error from next() and may record or swallow it; calling next() twice fails the job", async () => {
  const ran: string[] = [];
  const { registry, T } = jobs(ran, (n) => {
    if (n > 0) throw new Error(`job ${n} failed`);
  });
  const mw: Middleware = async (ctx, next) => {
    if (ctx.args[0] === 0) {
      await next();
      return next();
    }
    try {
      await next();
    } catch (e) {
      ran.push(`caught ${(e as Error).message}`);
      if (ctx.args[0] === 2) throw e;
    }
  };
  const w = startWorker(registry, { namespace: ns, queues: ["mw"], concurrency: 1 }, { middleware: stack(mw) });
  await T.enqueueMany([[1], [2], [0]]);
  await stopAfter(w, 3);
  expect(ran).toEqual(["T 1", "caught job 1 failed", "T 2", "caught job 2 failed", "T 0"]);
  expect((await failures()).map((f) => f.error)).toEqual(["job 2 failed", "middleware #1 called next() more than once"]);
});

test("a middleware that calls next() without awaiting it: the job's slot stays busy until the job ends", async () => {
  const ran: string[] = [];
  let release = () => {};
  const { registry, T } = jobs(ran, () => new Promise<void>((r) => (release = r)));
  const w = startWorker(registry, { namespace: ns, queues: ["mw"], concurrency: 1 }, { middleware: stack((_ctx, next) => void next()) });
  await T.enqueue(3);
  await waitFor(() => ran.length === 1, 5000, "the job to start");
  // The middleware has returned; had the runner believed it, the job would be acknowledged by the next call.
  await waitFor(() => w.logs.some((l) => /started/.test(l)), 5000, "start-up");
  expect(await stat("processed")).toBe(0);
  expect((await c.keys(`${ns}worker:*`)).filter((k) => !/:started$/.test(k))).toHaveLength(1);
  release();
  await stopAfter(w, 1);
  expect(await stat("failed")).toBe(0);
});

test("a middleware that never settles: JobTimeoutError at --job-timeout; at the shutdown deadline the job is handed back", async () => {
  const ran: string[] = [];
  const { registry, T } = jobs(ran);
  const never: Middleware = () => new Promise(() => {});
  const w = startWorker(registry, { namespace: ns, queues: ["mw"], concurrency: 1, jobTimeout: 0.3 }, { middleware: stack(never) });
  await T.enqueue(1);
  await stopAfter(w, 1);
  expect((await failures()).map((f) => f.exception)).toEqual(["JobTimeoutError"]);

  const w2 = startWorker(registry, { namespace: ns, queues: ["mw"], concurrency: 1, shutdownTimeout: 0.3 }, { middleware: stack(never) });
  await T.enqueue(2);
  await waitFor(async () => (await c.llen(`${ns}queue:mw`)) === 0 && (await c.keys(`${ns}worker:*`)).some((k) => !/:started$/.test(k)), 5000, "the job to be running");
  w2.launcher.stop();
  await w2.done;
  expect(await c.lrange(`${ns}queue:mw`, 0, -1)).toEqual(['{"class":"T","args":[2]}']);
  expect(ran).toEqual([]);
  expect([await stat("processed"), await stat("failed")]).toEqual([1, 1]);
});

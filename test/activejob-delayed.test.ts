// Issue #17 point 6: Rails' `HelloJob.set(wait: N).perform_later(...)` end to end. Real ActiveJob 6.1 and its
// own ResqueAdapter serialize the job and hand it to resque-scheduler's enqueue_at_with_queue
// (test/fixtures/activejob-delayed.rb); a real bunworker process promotes it under resque-scheduler's master lock
// when due and runs it. The other way, enqueueAt of an ActiveJob wrapper is found, removed and run by Ruby.
import { beforeAll, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { hostname } from "node:os";
import * as api from "../src/index";
import { activeJobPayload } from "../src/activejob";
import { makeKeys } from "../src/keys";
import { isolateApi } from "./helpers/api";
import { REDIS_URL, waitFor } from "./helpers/redis";
import { rubyDescribe, runRuby } from "./helpers/ruby";
import { spawnWorker, withOutput } from "./helpers/worker-process";

const WORKER = new URL("fixtures/activejob-worker.ts", import.meta.url).pathname;
const WRAPPER = "ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper";
const WAIT = 3; // seconds: the worker is up before the jobs are due
const describe = rubyDescribe("the delayed ActiveJob tests (test/activejob-delayed.test.ts)");

let c: RedisClient;
const ns = isolateApi((client) => (c = client));
const keys = makeKeys(ns);

interface Seen {
  queue: string;
  args: unknown[];
  activeJob: Record<string, unknown> | null;
  payloadClass: string;
  raw: string;
  ranAt: number;
}

describe("Rails' set(wait:).perform_later through resque-scheduler -> bunworker", () => {
  let scheduled: { job_id: string; scheduled_at: number }[];
  let seconds: string[];
  let items: string[];
  let seen: Seen[];
  let lockHolder: string | null;
  let workerLock: string;
  let exitCode: number;

  beforeAll(async () => {
    scheduled = (await runRuby("activejob-delayed.rb", ["schedule", REDIS_URL, ns, String(WAIT)])).trim().split("\n").map((l) => JSON.parse(l));
    // Ruby's two jobs are due in the same second, or in two (when a second boundary fell between them).
    seconds = (await c.send("ZRANGE", [keys.delayedSchedule, "0", "-1"])) as string[];
    items = (await Promise.all(seconds.map((ts) => c.lrange(keys.delayed(ts), 0, -1)))).flat();
    const w = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=default,high", "--interval=0.5", "--use-number", "--shutdown-timeout=1"], { script: WORKER });
    workerLock = `${hostname().replace(/:/g, "_")}:${w.pid}:`;
    try {
      await withOutput(waitFor(async () => (await c.llen(`${ns}test:ran`)) >= 2, 20_000, "both delayed jobs ran"), w);
      lockHolder = await c.get(keys.schedulerLock);
    } finally {
      w.signal("SIGTERM");
      exitCode = await w.exited;
    }
    seen = (await c.lrange(`${ns}test:ran`, 0, -1)).map((s) => JSON.parse(s) as Seen);
  }, 40_000);

  test("Ruby wrote resque-scheduler's delayed keys: the due second, the JobWrapper items with `queue` last", async () => {
    expect(seconds).toEqual([...new Set(scheduled.map((s) => String(Math.floor(s.scheduled_at))))]);
    expect(items).toHaveLength(2);
    for (const [i, item] of items.entries()) {
      expect(item.startsWith(`{"class":"${WRAPPER}","args":[{"job_class":"HelloJob","job_id":"${scheduled[i]!.job_id}",`)).toBe(true);
      expect(item.endsWith(`],"queue":"${i === 0 ? "default" : "high"}"}`)).toBe(true);
    }
  });

  test("bunworker promoted them under the master lock when due, not before, and ran them with the wrapper's bytes", () => {
    expect(lockHolder?.startsWith(workerLock)).toBe(true);
    expect(exitCode).toBe(0);
    expect(seen).toHaveLength(2);
    for (const s of seen) {
      const due = Math.floor(scheduled.find((j) => j.job_id === s.activeJob?.jobId)!.scheduled_at);
      expect(s.ranAt).toBeGreaterThanOrEqual(due * 1000);
      expect(s.payloadClass).toBe(WRAPPER);
      // Promotion drops `queue` and keeps the class and args bytes as Ruby wrote them.
      const item = items.find((i) => i.includes(`"job_id":"${(s.activeJob as { jobId: string }).jobId}"`))!;
      expect(s.raw).toBe(item.replace(/,"queue":"[a-z]+"}$/, "}"));
    }
  });

  test("the job received the JS values and the context the ActiveJob fields", () => {
    const world = seen.find((s) => s.queue === "default")!;
    expect(world.args).toEqual(["World", 42, { $bigint: "18446744073709551616" }, 1.5, null, true, [1, "a"], { k: "v" }]);
    const { enqueuedAt, ...fields } = world.activeJob!;
    expect(fields).toEqual({ jobClass: "HelloJob", jobId: scheduled[0]!.job_id, executions: 1, locale: "en", timezone: null, priority: null });
    expect(Math.abs(Date.parse((enqueuedAt as { $date: string }).$date) - Date.now())).toBeLessThan(120_000);
    const ada = seen.find((s) => s.queue === "high")!;
    expect(ada.args).toEqual(["Ada", { name: "Ada", count: 3 }]);
    expect(ada.activeJob).toMatchObject({ jobClass: "HelloJob", jobId: scheduled[1]!.job_id, executions: 1, locale: "de", priority: 5 });
  });

  test("the delayed keys are empty afterwards, and nothing is left in a queue or failed", async () => {
    expect(await c.exists(keys.delayedSchedule)).toBe(false);
    for (const ts of seconds) expect(await c.exists(keys.delayed(ts))).toBe(false);
    for (const item of items) expect(await c.exists(keys.timestamps(item))).toBe(false);
    expect(await api.delayedCount()).toBe(0);
    expect(await c.llen(`${ns}queue:default`)).toBe(0);
    expect(await c.llen(`${ns}queue:high`)).toBe(0);
    expect(await c.llen(`${ns}failed`)).toBe(0);
  });
});

describe("enqueueAt of an ActiveJob wrapper -> Ruby's delayed API and ActiveJob", () => {
  test("Ruby's encoding of the same job is our item's bytes: scheduled_at finds it, remove_delayed_in_queue removes it, ActiveJob runs it", async () => {
    const when = Date.UTC(2030, 0, 2, 3, 4, 5);
    const { queue, jobId, payload } = activeJobPayload("HelloJob", ["Ada", 2n ** 64n, 1.5, [1, "a"]], { queue: "later", locale: "de", priority: 5, keywords: { count: 3 } });
    expect(await api.enqueueAt(when, { queue, payload })).toBe("delayed");
    const ts = String(when / 1000);
    const [out, ...more] = (await runRuby("activejob-delayed.rb", ["read", REDIS_URL, ns, queue, ts])).trim().split("\n").map((l) => JSON.parse(l));
    expect(more).toEqual([]);
    expect(out).toEqual({
      class: WRAPPER,
      same_bytes: true,
      scheduled_at: [when / 1000],
      removed: 1,
      received: { args: ["Ada", { Integer: "18446744073709551616" }, 1.5, [1, "a"]], kwargs: { ":count": 3 }, job_id: jobId, locale: "de", queue_name: "later", priority: 5, executions: 1 },
    });
    expect(await c.llen(keys.delayed(ts))).toBe(0);
  });
});

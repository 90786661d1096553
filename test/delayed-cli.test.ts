// Issue #17 point 5: `bunworker delayed list|remove|enqueue-now`, run as a real command.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { enqueueAtWith } from "../src/delayed";
import { makeKeys } from "../src/keys";
import { promoteScript } from "../src/delayed-scripts";
import { isolate, REDIS_URL } from "./helpers/redis";
import { MAIN_WORKER } from "./helpers/worker-process";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([process.execPath, MAIN_WORKER, "delayed", ...argv, `--uri=${REDIS_URL}`, `--namespace=${ns}`], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

test("list shows every second with its jobs; remove removes by bytes; enqueue-now makes a second due for the lock holder", async () => {
  const keys = makeKeys(ns);
  const ts = Math.floor(Date.now() / 1000) + 3600;
  const job = { queue: "q", payload: { class: "Report", args: [7, "x"] } };
  await enqueueAtWith(c, keys, ts * 1000, job);
  await enqueueAtWith(c, keys, ts * 1000, { queue: "q", payload: { class: "Other", args: [] } });
  await enqueueAtWith(c, keys, (ts + 60) * 1000, job);

  const listed = await run("list");
  expect(listed.code).toBe(0);
  expect(listed.out).toContain(`${new Date(ts * 1000).toISOString().replace(".000", "")}  ${ts}  2 job(s)\n    {"class":"Report","args":[7,"x"],"queue":"q"}\n    {"class":"Other","args":[],"queue":"q"}`);

  const removed = await run("remove", "--class=Report", "--queue=q", "--args=[7,\"x\"]");
  expect(removed.out).toBe("removed 2\n");
  expect(await c.zcard(keys.delayedSchedule)).toBe(1);

  const now = await run("enqueue-now", String(ts));
  expect(now.code).toBe(0);
  expect(now.out).toContain(`second ${ts} (1 job(s)) is due now`);
  const r = await promoteScript(c, keys, { lockValue: "h:1:x", takeOver: "", lockTtlMs: 5000, batch: 100, failedAt: "x", worker: "w", nowMs: Date.now(), skip: [] });
  expect(r.moved).toBe(1);
  expect(await c.lrange(keys.queue("q"), 0, -1)).toEqual(['{"class":"Other","args":[]}']);

  const missing = await run("enqueue-now", "12345");
  expect(missing.code).toBe(1);
  expect(missing.err).toBe("bunworker delayed: enqueue-now: no delayed jobs at second 12345\n");
  expect((await run("list")).out).toBe("no delayed jobs\n");
});

// Issue #14, point 6, without Sentinel: --min-replicas=N makes a job start only once the call that took it is on
// N replicas (WAIT). A primary with no replica runs nothing (and says so once); once a replica connects, every
// job runs, once. The failover runs themselves are in failover.test.ts.
import { afterEach, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { parseCommandLine } from "../src/cli";
import { SettingsError } from "../src/errors";
import { defaultSettings, validate } from "../src/settings";
import { client, startRedis, thrown, waitFor, type PrivateRedis } from "./helpers/redis";
import { spawnWorker } from "./helpers/worker-process";

let servers: PrivateRedis[] = [];
let clients: RedisClient[] = [];
afterEach(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.stop();
  servers = [];
  clients = [];
});

test("--min-replicas is parsed, defaults to 0, and is refused outside 0..16 with the flag named", () => {
  expect(defaultSettings({}).minReplicas).toBe(0);
  const cl = parseCommandLine(["--queues=q", "--min-replicas=2"], {});
  expect(cl.action === "run" && cl.settings.minReplicas).toBe(2);
  for (const bad of [-1, 17, 1.5]) {
    const e = thrown(() => validate({ ...defaultSettings({}), queues: ["q"], minReplicas: bad }));
    expect(e).toBeInstanceOf(SettingsError);
    expect(e.message).toBe(`--min-replicas must be an integer from 0 to 16, got ${bad}`);
  }
});

test("no replica: no job starts, one warning; a replica connects: every job runs once", async () => {
  const primary = await startRedis();
  servers.push(primary);
  const c = client(primary.url);
  clients.push(c);
  const ns = "mr:";
  const jobs = Array.from({ length: 40 }, (_, i) => JSON.stringify({ class: "Count", args: [`j${i}`, 5] }));
  await c.send("RPUSH", [`${ns}queue:q`, ...jobs]);
  const w = spawnWorker([`--uri=${primary.url}`, `--namespace=${ns}`, "--queues=q", "--concurrency=4", "--min-replicas=1"]);
  await w.waitForOutput(/the write reached 0 of --min-replicas=1 replicas within 1000 ms: no job starts/, 15_000);
  // The fetch took jobs into their slots (the worker states), but none of them ran.
  expect(await c.hlen(`${ns}test:runs`)).toBe(0);
  const replica = await startRedis({ extra: ["--replicaof", "127.0.0.1", String(primary.port)] });
  servers.push(replica);
  await waitFor(async () => (await c.hlen(`${ns}test:runs`)) === 40, 20_000, "every job to run once a replica is there");
  expect(w.output()).toMatch(/replicas caught up after \d+\.\d s: jobs start again/);
  const runs = Object.values((await c.hgetall(`${ns}test:runs`)) as Record<string, string>);
  expect(runs.every((n) => n === "1")).toBe(true);
  expect(w.output().match(/the write reached 0 of --min-replicas/g)?.length).toBe(1);
  w.signal("SIGTERM");
  expect(await w.exited).toBe(0);
  expect(await c.llen(`${ns}queue:q`)).toBe(0);
}, 40_000);

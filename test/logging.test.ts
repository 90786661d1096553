// Issue #2: logs through consola; --log-format=json writes one JSON object per line; --log-level filters.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { REDIS_URL, client, isolate } from "./helpers/redis";
import { spawnWorker } from "./helpers/worker-process";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

test("--log-format=json: every line is one JSON object with time, level and msg; jobs at debug, failures at warn", async () => {
  await c.rpush(`${ns}queue:log`, '{"class":"Noop","args":[]}', '{"class":"Fail","args":["bad"]}');
  const w = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=log", "--exit-on-complete", "--log-format=json", "--log-level=debug"]);
  expect(await w.exited).toBe(0);
  const lines = w.output().trim().split("\n");
  const entries = lines.map((l) => JSON.parse(l) as { time: string; level: string; msg: string });
  for (const e of entries) expect(Object.keys(e).slice(0, 3)).toEqual(["time", "level", "msg"]);
  expect(entries.some((e) => e.level === "info" && e.msg.includes("started"))).toBe(true);
  expect(entries.some((e) => e.level === "debug" && e.msg.includes("job Noop from queue log done"))).toBe(true);
  expect(entries.some((e) => e.level === "warn" && e.msg.includes("RangeError: bad"))).toBe(true);
});

test("--log-level=warn hides lifecycle lines but keeps failures", async () => {
  await c.rpush(`${ns}queue:log`, '{"class":"Fail","args":["shown"]}');
  const w = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=log", "--exit-on-complete", "--log-level=warn"]);
  expect(await w.exited).toBe(0);
  expect(w.output()).not.toContain("started");
  expect(w.output()).toContain("RangeError: shown");
});

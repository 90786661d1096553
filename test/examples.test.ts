// Issue #16, point 8: the README's examples in jobs/ run in the real worker command (worker.ts loads jobs/):
// SendReceipt (typed, with hooks), the request-timing middleware and PageVisit's onStart/onStop database.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { isolate, REDIS_URL } from "./helpers/redis";
import { MAIN_WORKER, spawnWorker } from "./helpers/worker-process";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

test("jobs/ examples: a typed job with hooks, a middleware and a lifecycle-managed database in one worker run", async () => {
  const receipt = (id: number, email: string) => JSON.stringify({ class: "SendReceipt", args: [id, email] });
  await c.rpush(`${ns}queue:mail`, receipt(42, "ada@example.com"), receipt(43, "nobody@example.com"), receipt(45, "not-an-address"));
  await c.rpush(`${ns}queue:default`, '{"class":"PageVisit","args":["/home"]}', '{"class":"PageVisit","args":["/home"]}', '{"class":"PageVisit","args":["/about"]}');
  const w = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=mail,default", "--exit-on-complete", "--log-level=debug"], { script: MAIN_WORKER });
  expect(await w.exited).toBe(0);
  const out = w.output();
  expect(await c.lrange(`${ns}demo:receipts`, 0, -1)).toEqual(["order 42 -> ada@example.com"]);
  expect(out).toMatch(/skipped by a before hook: nobody@example\.com unsubscribed/);
  const failed = (await c.lrange(`${ns}failed`, 0, -1)).map((f) => JSON.parse(f) as { exception: string; error: string });
  expect(failed.map((f) => [f.exception, f.error])).toEqual([["TypeError", "not an email address: not-an-address"]]);
  expect(out).toMatch(/receipt 45 failed: not an email address/);
  expect([await c.get(`${ns}stat:processed`), await c.get(`${ns}stat:failed`)]).toEqual(["6", "1"]);
  expect(out).toMatch(/done in [\d.]+ ms .*"requestId"/);
  expect(out).toMatch(/page-visits: database opened/);
  expect(out).toMatch(/page-visits: database closed after 3 visit\(s\)/);
});

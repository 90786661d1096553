// The dashboard at scale (#18): 100,000 failed jobs, 1,000 workers, 200 queues. Each page is fetched and
// checked for what it must show; the times are printed for the README and the report, never asserted (the
// machine is shared and noisy).
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { RedisClient, Server } from "bun";
import { makeKeys } from "../src/keys";
import { parseUri } from "../src/uri";
import { startDashboard } from "../src/web/server";
import { client, dropNamespace, freshNamespace, REDIS_URL } from "./helpers/redis";

const ns = freshNamespace();
const keys = makeKeys(ns);
let c: RedisClient;
let dash: Server<undefined>;
const times: string[] = [];

beforeAll(async () => {
  c = client();
  const now = new Date().toISOString();
  for (let b = 0; b < 100; b++) {
    const batch = Array.from({ length: 1000 }, (_, i) => {
      const n = b * 1000 + i;
      return `{"failed_at":"2026/11/27 04:18:30 UTC","payload":{"class":"Job${n % 50}","args":[${n}]},"exception":"E${n % 7}","error":"failed ${n}","backtrace":["a.rb:1","b.rb:2"],"worker":"vm:1:q","queue":"q${n % 200}"}`;
    });
    await c.send("RPUSH", [keys.failed, ...batch]);
  }
  const queues = Array.from({ length: 200 }, (_, i) => `q${i}`);
  await c.send("SADD", [keys.queues, ...queues]);
  await Promise.all(queues.map((q, i) => c.send("RPUSH", [keys.queue(q), ...Array.from({ length: (i % 10) + 1 }, () => '{"class":"X","args":[]}')])));
  const workers = Array.from({ length: 1000 }, (_, i) => `host${i % 20}:${1000 + i}:q${i % 200}`);
  await c.send("SADD", [keys.workers, ...workers]);
  await c.send("HSET", [keys.heartbeats, ...workers.flatMap((w) => [w, now])]);
  await Promise.all(workers.slice(0, 300).map((w) => c.send("SET", [keys.worker(w), '{"queue":"q1","run_at":"2026-11-27T04:18:29Z","payload":{"class":"X","args":[]}}'])));
  dash = startDashboard({ target: parseUri(REDIS_URL, { tlsCert: "", insecureTls: false }), keys, commandTimeoutMs: 10_000, host: "127.0.0.1", port: 0, readOnly: false, deadAfter: 300 });
}, 120_000);

afterAll(async () => {
  dash?.stop(true);
  process.stdout.write(`dashboard page times (100,000 failed, 1,000 workers, 200 queues; shared machine):\n${times.join("\n")}\n`);
  await dropNamespace(c, ns);
  c.close();
});

async function timed(path: string): Promise<string> {
  await fetch(dash.url.href + path.slice(1)); // warm: the first request connects to Redis
  const t0 = performance.now();
  const r = await fetch(dash.url.href + path.slice(1));
  const body = await r.text();
  const ms = performance.now() - t0;
  times.push(`  ${path.padEnd(40)} ${ms.toFixed(1)} ms`);
  expect(r.status).toBe(200);
  return body;
}

test("every page answers with 100,000 failed jobs, 1,000 workers and 200 queues", async () => {
  expect(await timed("/")).toContain("<b>100000</b>");
  expect(await timed("/queues")).toContain("Queues <small>200</small>");
  expect(await timed("/queues?q=q19&sort=name")).toContain("q199");
  expect(await timed("/queues/q9")).toContain("10 jobs");
  const workers = await timed("/workers");
  expect(workers).toContain("Workers <small>1000</small>");
  expect(workers).toContain("50 workers, 15 busy");
  const failed = await timed("/failed");
  expect(failed).toContain("failed 99999");
  expect(await timed("/failed?page=1000")).toContain("failed 50049");
  expect(await timed("/failed?class=Job7")).toContain("2000 of 100000");
  expect(await timed("/failed?queue=q3&exception=E3")).toContain("of 100000");
}, 120_000);

test("with 1,000 queues the queues page pages, searches and sorts by size", async () => {
  await c.send("SADD", [keys.queues, ...Array.from({ length: 800 }, (_, i) => `empty${i}`)]);
  const bySize = await timed("/queues?sort=size");
  expect(bySize).toContain("Queues <small>1000</small>");
  expect(bySize).toContain(">q9<"); // 10 jobs: on the first page
  expect(bySize).not.toContain(">empty"); // 0 jobs: last
  expect(bySize).toContain("older →");
  const searched = await timed("/queues?q=empty79&sort=name");
  expect(searched).toContain("Queues <small>11</small>"); // empty79, empty790..empty799
  expect(await timed("/queues?sort=size&page=20")).toContain("page 20");
}, 60_000);

// Issue #14, point 7: every slot works while jobs wait. An idle blocking wait (a blocker or a follower on an
// empty queue) holds a lent slot; when the lanes find more jobs than free slots, it gives the slot back at once
// instead of keeping it for its whole wait (38 s by default). Real worker processes; five jobs of 3 s pushed to
// the first queue must all be running together well before the first of them ends.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { client, freshNamespace, startRedis, waitFor, type PrivateRedis } from "./helpers/redis";
import { spawnWorker } from "./helpers/worker-process";

// A private server: the count of blocked clients must be this worker's alone.
let server: PrivateRedis;
let c: RedisClient;
let ns: string;
beforeAll(async () => {
  server = await startRedis();
  c = client(server.url);
});
afterAll(async () => {
  c.close();
  await server.stop();
});
const blocked = async () => Number((((await c.send("INFO", ["clients"])) as string).match(/blocked_clients:(\d+)/) ?? [])[1]);

const JOB_MS = 3000;

async function allStartTogether(args: string[], before?: () => Promise<void>): Promise<void> {
  ns = freshNamespace();
  const w = spawnWorker([`--uri=${server.url}`, `--namespace=${ns}`, "--concurrency=5", "--shutdown-timeout=5", "--keyspace-notifications=off", ...args]);
  await w.waitForOutput(/started/);
  await before?.();
  // Let every blocker and follower lend its slot and start waiting.
  await waitFor(async () => (await blocked()) > 0, 5000, "a blocking wait");
  await Bun.sleep(200);
  const items = Array.from({ length: 5 }, (_, i) => JSON.stringify({ class: "Slow", args: [JOB_MS, `s${i}`] }));
  const pushedAt = Date.now();
  await c.send("RPUSH", [`${ns}queue:a`, ...items]);
  // All five run at once: the fifth starts long before the first one ends.
  await waitFor(async () => (await c.llen(`${ns}test:started`)) === 5, JOB_MS * 2, "five jobs started");
  const startedIn = Date.now() - pushedAt;
  expect(await c.llen(`${ns}test:ran`)).toBe(0);
  expect(startedIn).toBeLessThan(JOB_MS / 2);
  w.signal("SIGTERM");
  expect(await w.exited).toBe(0);
  expect((await c.lrange(`${ns}test:ran`, 0, -1)).length).toBe(5);
}

test("--concurrency=5 --queues=a,b: five 3 s jobs pushed to a all start at once (the wait on b gives its slot back)", async () => {
  await allStartTogether(["--queues=a,b"]);
}, 20_000);

test("five queues (three blocking waits): the same five jobs all start at once", async () => {
  await allStartTogether(["--queues=a,b,c,d,e"]);
}, 20_000);

test("with a follower waiting on another queue: the same five jobs all start at once", async () => {
  await allStartTogether(["--queues=a,b,c", "--blocking-queues=1", "--follow-queues=2", "--interval=1"], async () => {
    // Jobs on b and c (polled, past the one blocking queue) give each a follower, which then waits on it.
    await c.rpush(`${ns}queue:b`, JSON.stringify({ class: "Noop", args: [] }));
    await c.rpush(`${ns}queue:c`, JSON.stringify({ class: "Noop", args: [] }));
    await waitFor(async () => Number((await c.get(`${ns}stat:processed`)) ?? 0) === 2, 5000, "the jobs on b and c");
    await waitFor(async () => (await blocked()) >= 3, 5000, "the followers' waits");
  });
}, 20_000);

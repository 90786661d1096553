// Issue #5: --processes N runs N worker processes under one supervisor that forwards signals and restarts a
// crashed child; the restarted child recovers the crashed one's jobs.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { REDIS_URL, client, isolate, waitFor } from "./helpers/redis";
import { spawnWorker } from "./helpers/worker-process";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

const pids = async () => new Set((await c.smembers(`${ns}workers`)).map((id) => Number(id.split(":")[1])));

test("two processes; a SIGKILLed child is restarted and its job recovered; TERM stops all and exits 0", async () => {
  const sup = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=sv", "--concurrency=1", "--processes=2", "--shutdown-timeout=0.2"]);
  const first = await waitFor(async () => ((await pids()).size === 2 ? await pids() : null), 10_000, "two worker processes");
  expect(first.has(sup.pid)).toBe(false);
  await c.rpush(`${ns}queue:sv`, '{"class":"WaitForAbort","args":["victim"]}');
  await waitFor(async () => (await c.llen(`${ns}test:started`)) === 1, 5000, "job start");
  const victimId = (await c.smembers(`${ns}workers`)).find(async (id) => (await c.get(`${ns}worker:${id}`)) !== null);
  const busy = await waitFor(async () => {
    for (const id of await c.smembers(`${ns}workers`)) if (await c.get(`${ns}worker:${id}`)) return Number(id.split(":")[1]);
    return null;
  }, 5000, "the busy child");
  expect(victimId).toBeDefined();
  process.kill(busy, "SIGKILL");
  await sup.waitForOutput(new RegExp(`worker process ${busy} exited \\(SIGKILL\\); restarting`), 10_000);
  await waitFor(async () => (await c.llen(`${ns}test:started`)) === 2, 15_000, "the job to run again in a restarted child");
  // The restarted child may still be registering when a sibling has already taken the recovered job.
  const now = await waitFor(async () => ((await pids()).size === 2 ? await pids() : null), 10_000, "two worker processes again");
  expect(now.has(busy)).toBe(false);
  sup.signal("SIGTERM");
  expect(await sup.exited).toBe(0);
  expect(await c.scard(`${ns}workers`)).toBe(0);
  expect(await c.lindex(`${ns}queue:sv`, 0)).toBe('{"class":"WaitForAbort","args":["victim"]}');
});

test("a signal sent to the whole process group (Ctrl-C, systemd, Heroku) lets running jobs finish", async () => {
  const sup = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=sv", "--concurrency=1", "--processes=2", "--shutdown-timeout=10"], {
    cmd: ["setsid", process.execPath, new URL("./fixtures/test-worker.ts", import.meta.url).pathname],
  });
  await waitFor(async () => (await pids()).size === 2, 10_000, "two worker processes");
  await c.rpush(`${ns}queue:sv`, '{"class":"Slow","args":[500,"group"]}');
  await waitFor(async () => (await c.llen(`${ns}test:started`)) === 1, 5000, "job start");
  process.kill(-sup.pid, "SIGINT");
  expect(await sup.exited).toBe(0);
  expect(await c.lrange(`${ns}test:ran`, 0, -1)).toEqual(["group"]);
  expect(await c.llen(`${ns}queue:sv`)).toBe(0);
});

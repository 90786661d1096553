// Issue #9, point 2: a worker frozen (SIGSTOP) while idle, with its blocking wait and pickup pending in Redis,
// is reaped by another worker; a job pushed then must not be taken on behalf of the frozen one (nobody could
// recover it after a later SIGKILL), and after SIGCONT it must register again before it takes anything.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { REDIS_URL, isolate, waitFor } from "./helpers/redis";
import { spawnWorker } from "./helpers/worker-process";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

const blocked = async () => Number(/blocked_clients:(\d+)/.exec((await c.send("INFO", ["clients"])) as string)?.[1] ?? 0);
/** Every worker:<id> value that holds a job (not the :started keys). */
const states = async () => (await c.keys(`${ns}worker:*`)).filter((k) => !k.endsWith(":started"));

test("a frozen idle worker that was reaped takes no job, neither while frozen nor after SIGCONT; a later SIGKILL strands nothing", async () => {
  const args = [`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=fz", "--concurrency=3", "--heartbeat-interval=0.25", "--dead-after=1", "--command-timeout=2"];
  const before = await blocked();
  const frozen = spawnWorker(args);
  await frozen.waitForOutput(/started/);
  await waitFor(async () => (await blocked()) > before, 5000, "the frozen-to-be worker's blocking wait");
  frozen.signal("SIGSTOP");
  const reaper = spawnWorker(args);
  await reaper.waitForOutput(new RegExp(`worker process \\S+:${frozen.pid}:\\w+ is dead`), 10_000);
  await c.rpush(`${ns}queue:fz`, '{"class":"Record","args":["after the reap"]}');
  await waitFor(async () => (await c.lrange(`${ns}test:ran`, 0, -1)).length === 1, 5000, "the job to run (on the live worker)");
  frozen.signal("SIGCONT");
  await frozen.waitForOutput(/registered them again/, 5000);
  await c.rpush(`${ns}queue:fz`, '{"class":"Record","args":["after the thaw"]}');
  await waitFor(async () => (await c.lrange(`${ns}test:ran`, 0, -1)).length === 2, 5000, "the second job");
  frozen.signal("SIGKILL");
  await frozen.exited;
  reaper.signal("SIGTERM");
  expect(await reaper.exited).toBe(0);
  expect((await c.lrange(`${ns}test:ran`, 0, -1)).sort()).toEqual(['["after the reap"]', '["after the thaw"]']);
  expect(await c.llen(`${ns}queue:fz`)).toBe(0);
  // The killed worker held nothing that is not recoverable: any state left is registered under a live beat.
  const left = await states();
  const procs = Object.keys(await c.hgetall(`${ns}bunworker:beats`));
  expect(left.every((k) => procs.some((p) => k.includes(p.split(":").slice(0, 2).join(":"))))).toBe(true);
});

// Issue #17 point 2 with real worker processes: every worker promotes by default, --no-promote turns it off,
// one process holds resque-scheduler's lock, and a restart on the same host takes a dead holder's lock at once.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { hostname } from "node:os";
import { isolate, REDIS_URL, waitFor } from "./helpers/redis";
import { spawnWorker, startedWorker, terminateCleanly } from "./helpers/worker-process";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});
const host = hostname().replace(/:/g, "_");
const lockKey = () => `${ns}${ns.slice(0, -1)}:resque_scheduler_master_lock`;
const args = (extra: string[] = []) => [`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=dq", "--concurrency=2", "--interval=0.5", "--shutdown-timeout=1", ...extra];
const started = (extra: string[] = []) => startedWorker(args(extra));
const term = terminateCleanly;
/** Ruby's delayed_push of a Record job due at `ts`. */
async function rubyPush(ts: number, tag: string): Promise<void> {
  const item = `{"class":"Record","args":["${tag}"],"queue":"dq"}`;
  await c.rpush(`${ns}delayed:${ts}`, item);
  await c.sadd(`${ns}timestamps:${item}`, `delayed:${ts}`);
  await c.send("ZADD", [`${ns}delayed_queue_schedule`, String(ts), String(ts)]);
}

test("with --no-promote a worker leaves delayed jobs alone; a default worker promotes them and runs them", async () => {
  const off = await started(["--no-promote"]);
  await rubyPush(Math.floor(Date.now() / 1000) - 1, "due");
  // The --no-promote worker is fully up (its first fetch ran) and nothing was promoted or locked.
  await waitFor(async () => (await c.smembers(`${ns}workers`)).length === 2, 5000, "the first worker registered");
  expect(await c.exists(lockKey())).toBe(false);
  const on = await started();
  await waitFor(async () => (await c.lrange(`${ns}test:ran`, 0, -1)).includes('["due"]'), 10_000, "the delayed job ran");
  expect(await c.get(lockKey())).toMatch(new RegExp(`^${host}:${on.pid}:`));
  expect(off.output()).not.toContain("master lock");
  await Promise.all([term(off), term(on)]);
  // Released at shutdown.
  expect(await c.exists(lockKey())).toBe(false);
});

test("a killed holder's lock is taken over at once by a new process on the same host, and its jobs still run", async () => {
  const a = await started();
  await waitFor(async () => (await c.get(lockKey()))?.startsWith(`${host}:${a.pid}:`), 5000, "the first worker holds the lock");
  a.signal("SIGKILL");
  await a.exited;
  const b = await started();
  await b.waitForOutput(/taking it over/, 5000);
  // Well before the killed holder's 20 s hold could lapse.
  await waitFor(async () => (await c.get(lockKey()))?.startsWith(`${host}:${b.pid}:`), 3000, "the new process holds the lock");
  await rubyPush(Math.floor(Date.now() / 1000) + 1, "after-takeover");
  await waitFor(async () => (await c.lrange(`${ns}test:ran`, 0, -1)).includes('["after-takeover"]'), 10_000, "the delayed job ran");
  await term(b);
});

test("--schedule: two workers with the same schedule file enqueue each tick once; a bad file exits 2 naming it", async () => {
  const dir = (await import("node:fs")).mkdtempSync(`${process.env.TMPDIR ?? "/tmp"}/sched-`);
  const file = `${dir}/schedule.yml`;
  await Bun.write(file, `every_second:\n  every: 1s\n  class: Record\n  queue: ticks\n  args: tick\n  description: "a tick a second"\n`);
  try {
    const a = await started([`--schedule=${file}`]);
    const b = await started([`--schedule=${file}`]);
    const t0 = Date.now();
    await waitFor(async () => (await c.llen(`${ns}queue:ticks`)) >= 3, 10_000, "three ticks");
    // The holder dies: the other takes over (a restart-less handover, within the 26 s hold + 4 s standby).
    const holderPid = Number((await c.get(lockKey()))?.split(":")[1]);
    const [holder, other] = holderPid === a.pid ? [a, b] : [b, a];
    holder.signal("SIGKILL");
    await holder.exited;
    const before = Number(await c.llen(`${ns}queue:ticks`));
    await waitFor(async () => (await c.get(lockKey()))?.startsWith(`${host}:${other.pid}:`), 35_000, "the other worker holds the lock");
    await waitFor(async () => (await c.llen(`${ns}queue:ticks`)) >= before + 2, 10_000, "two more ticks");
    await term(other);
    const ticks = Number(await c.llen(`${ns}queue:ticks`));
    expect(ticks).toBeLessThanOrEqual(Math.ceil((Date.now() - t0) / 1000) + 1);
    expect(await c.lindex(`${ns}queue:ticks`, 0)).toBe('{"class":"Record","args":["tick"]}');
    expect(await c.hget(`${ns}delayed:last_enqueued_at`, "every_second")).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}$/);
  } finally {
    (await import("node:fs")).rmSync(dir, { recursive: true, force: true });
  }
  const bad = spawnWorker(args(["--schedule=/nonexistent/schedule.yml"]));
  expect(await bad.exited).toBe(2);
  expect(bad.output()).toContain("--schedule: cannot read /nonexistent/schedule.yml (ENOENT)");
}, 60_000);

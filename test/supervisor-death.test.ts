// Issue #9 point 7: a --processes supervisor killed outright (KILL, the OOM killer) must not leave its children
// running as orphans, registered and fetching forever: each notices at once and stops as on TERM, handing
// its running job back, unregistering and exiting.
import { afterEach, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { readFileSync } from "node:fs";
import { REDIS_URL, isolate, waitFor } from "./helpers/redis";
import { children, spawnWorker } from "./helpers/worker-process";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

/** Running, that is: an exited child whose new parent has not reaped it yet (a zombie) counts as gone. */
function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Still a live worker process, by its procline or argv (a pid of one that exited may have been reused since). */
function stillOurs(pid: number): boolean {
  try {
    return /^resque-3\.0\.0: bunworker|fixtures\/test-worker\.ts/.test(readFileSync(`/proc/${pid}/cmdline`, "utf8"));
  } catch {
    return false;
  }
}

// The children are not the test's own processes: if the test fails they are killed here, by pid.
let orphans: number[] = [];
afterEach(() => {
  // Supervisors first, or one would restart the children killed below.
  for (const child of children) child.kill("SIGKILL");
  for (const pid of orphans.filter(stillOurs)) process.kill(pid, "SIGKILL");
  orphans = [];
});

const JOB = '{"class":"WaitForAbort","args":["held"]}';

const childPids = async () => [...new Set((await c.smembers(`${ns}workers`)).map((id) => Number(id.split(":")[1])))];

test("SIGKILL of the supervisor: both children hand back their jobs, unregister and exit", async () => {
  const sup = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=orphan", "--concurrency=1", "--processes=2", "--shutdown-timeout=0.2"]);
  orphans = await waitFor(async () => ((await childPids()).length === 2 ? childPids() : null), 10_000, "two registered worker processes");
  expect(orphans).not.toContain(sup.pid);
  await c.rpush(`${ns}queue:orphan`, JOB);
  await waitFor(async () => (await c.llen(`${ns}test:started`)) === 1, 5000, "the job to start in a child");

  process.kill(sup.pid, "SIGKILL");

  await waitFor(() => orphans.every((pid) => !pidAlive(pid)), 10_000, `children ${orphans.join(", ")} to exit`);
  expect(await c.scard(`${ns}workers`)).toBe(0);
  expect(await c.keys(`${ns}worker:*`)).toEqual([]);
  expect(await c.hlen(`${ns}workers:heartbeat`)).toBe(0);
  expect(await c.lrange(`${ns}queue:orphan`, 0, -1)).toEqual([JOB]);
  expect(await c.lrange(`${ns}test:aborted`, 0, -1)).toEqual([expect.stringMatching(/^held:/)]);
  expect(sup.output()).toContain("the supervisor process is gone: stopping as on TERM");
}, 30_000);

test("a child started by hand (stdin not a pipe) with BUNWORKER_CHILD set does not stop by itself", async () => {
  const w = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=orphan", "--concurrency=1"], { env: { BUNWORKER_CHILD: "1" } });
  await w.waitForOutput(/started/);
  await c.rpush(`${ns}queue:orphan`, '{"class":"Record","args":["still here"]}');
  await waitFor(async () => (await c.llen(`${ns}test:ran`)) === 1, 5000, "a job after start");
  expect(w.output()).not.toContain("supervisor process is gone");
  w.signal("SIGTERM");
  expect(await w.exited).toBe(0);
});

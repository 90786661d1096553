// Issue #17 point 7: a promoter is SIGKILLed at each point of its work: while promote-4.lua runs a batch (the
// script finishes or never started: it is one atomic step), between batches while it holds the lock, right
// after it took the lock, and in the middle of its shutdown (stop, release-lock-1.lua). After each kill a new
// promoter on the same host takes the lock at once and finishes: every item is in its queue exactly once,
// nothing is left in the delayed keys, nothing failed.
// Replay with FAULT_SEED=<seed printed>.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import type { Keys } from "../src/keys";
import { isolatePrivate, waitFor, type PrivateRedis } from "./helpers/redis";
import { faultSeed, mulberry32 } from "./helpers/seeded";
import { spawnWorker, type WorkerProcess } from "./helpers/worker-process";

const rng = mulberry32(faultSeed(1717, "promote-kill-points"));
let redis: PrivateRedis;
let c: RedisClient;
let ns: string;
let keys: Keys;
isolatePrivate((t) => ({ redis, c, ns, keys } = t));

const N = 12_000;
const args = () => [`--uri=${redis.url}`, `--namespace=${ns}`, "--queues=idle", "--concurrency=1", "--interval=0.2", "--command-timeout=2", "--shutdown-timeout=1"];

/** N items in 3 due seconds, written as Ruby's delayed_push writes them (one pipeline per second). */
async function fill(): Promise<void> {
  const base = Math.floor(Date.now() / 1000) - 10;
  for (let s = 0; s < 3; s++) {
    const ts = String(base + s);
    const items = Array.from({ length: N / 3 }, (_, i) => `{"class":"Count","args":["${s}-${i}",0],"queue":"dq"}`);
    await c.send("RPUSH", [keys.delayed(ts), ...items]);
    await Promise.all(items.map((item) => c.sadd(keys.timestamps(item), `delayed:${ts}`)));
    await c.send("ZADD", [keys.delayedSchedule, ts, ts]);
  }
}

async function finishedExactlyOnce(): Promise<void> {
  const after = spawnWorker(args());
  try {
    await waitFor(async () => !(await c.exists(keys.delayedSchedule)), 20_000, "the schedule drained");
    const queued = (await c.lrange(keys.queue("dq"), 0, -1)) as string[];
    expect(queued.length).toBe(N);
    expect(new Set(queued).size).toBe(N);
    expect((await c.keys(`${ns}timestamps:*`)).length).toBe(0);
    expect((await c.keys(`${ns}delayed:*`)).length).toBe(0);
    expect(await c.llen(keys.failed)).toBe(0);
  } finally {
    after.signal("SIGKILL");
    await after.exited;
  }
}

/** A tight look (1 ms apart, bounded at 10 s): the kill must land while the promoter is still draining. */
async function poll(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(1);
  }
}

async function killAt(point: "in a batch" | "right after taking the lock" | "during shutdown"): Promise<{ moved: number }> {
  await fill();
  const w: WorkerProcess = spawnWorker(args());
  try {
    if (point === "right after taking the lock") await poll(async () => (await c.exists(keys.schedulerLock)) as boolean, "the lock taken");
    else if (point === "in a batch") await poll(async () => (await c.llen(keys.queue("dq"))) > 0, "a first batch moved");
    else {
      await w.waitForOutput(/started/);
      w.signal("SIGTERM");
    }
    // The moment itself is drawn within the next batches.
    await Bun.sleep(rng.int(0, 15));
    w.signal("SIGKILL");
    await w.exited;
  } finally {
    w.signal("SIGKILL");
  }
  return { moved: Number(await c.llen(keys.queue("dq"))) };
}

for (const point of ["in a batch", "right after taking the lock", "during shutdown"] as const) {
  test(`a promoter killed ${point}: its successor takes over at once and every item is promoted exactly once`, async () => {
    const { moved } = await killAt(point);
    console.log(`killed ${point}: ${moved} of ${N} items moved before the kill`);
    // The kill landed before the promoter had finished (else this point was not tested).
    if (point !== "during shutdown") expect(moved).toBeLessThan(N);
    await finishedExactlyOnce();
  });
}

test("a promoter killed again and again while it drains: each item still promoted exactly once", async () => {
  await fill();
  for (let round = 0; round < 5; round++) {
    const w = spawnWorker(args());
    await Bun.sleep(rng.int(150, 600));
    w.signal("SIGKILL");
    await w.exited;
  }
  await finishedExactlyOnce();
});

// Issue #9: an ack must never clear the in-flight record of another job than the one it acknowledges.
// A slot's previous job's state can be removed from outside while the job runs (our reaper after a freeze, a
// late heartbeat or a Redis outage longer than --dead-after; Resque's prune or Resque.remove_worker). The slot
// is then free in the worker's memory while that job's ack is still on its way, and the next blocker that
// borrows the slot may pick a new job into it. Since 5af0d6f every job has a token (a lane's call number, or
// the pickup's "p<n>") and an ack applies only when its token is the slot's current one. Until fb35554 the
// pickup tokens were counted per blocker, and every blocker lends slots of every lane: a stale ack for blocker
// A's "p1" matched blocker B's "p1" in the same slot and deleted the NEW job's state (counting it as
// processed) while that job ran, so the job was in no queue and no worker:<id>, and a KILL, the shutdown
// deadline or a reap from then on lost it. This test failed on 5af0d6f and bd90d36 and passes since fb35554
// (one token counter per process).
//
// Deterministic reproduction, in-process: the reap is the reaper's own release script, run by the test; the
// "slow ack" is a lane round trip held back by the test (as a busy lane, a retry through an outage or a loaded
// machine delays it), and released once blocker B's pickup has put the new job into the same slot.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { makeKeys } from "../src/keys";
import { RedisConn } from "../src/redis";
import { failedAt } from "../src/resque-time";
import { releaseProcess, scripts } from "../src/scripts";
import { registryWith, startWorker } from "./helpers/in-process";
import { isolate, waitFor } from "./helpers/redis";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

/** Holds back every lane call that carries acks while `held` is set; counts the calls caught. */
function holdAcks() {
  const original = RedisConn.prototype.run;
  let release: () => void = () => {};
  let gate: Promise<void> | null = null;
  let caught = 0;
  let applied = 0;
  // ARGV[9] of lane-cycle-6.lua is the number of acks: after EVALSHA's sha, numkeys and 6 keys.
  const ACKS_AT = 2 + 6 + 8;
  RedisConn.prototype.run = function (this: RedisConn, f: (c: RedisClient) => Promise<unknown>, what: string, timeoutMs?: number) {
    if (what !== "cycle") return original.call(this, f, what, timeoutMs);
    const wrapped = (client: RedisClient) => {
      const proxy = new Proxy(client, {
        get(target, prop) {
          if (prop !== "send") return Reflect.get(target, prop, target);
          return async (cmd: string, args: string[]) => {
            const isCycle = (cmd === "EVALSHA" && args[0] === scripts.laneCycle.sha) || (cmd === "EVAL" && args[0] === scripts.laneCycle.source);
            if (gate && isCycle && Number(args[ACKS_AT]) > 0) {
              caught++;
              await gate;
            }
            const out = await target.send(cmd, args);
            if (isCycle && Number(args[ACKS_AT]) > 0) applied++;
            return out;
          };
        },
      });
      return f(proxy);
    };
    return original.call(this, wrapped as never, what, timeoutMs ?? 60_000) as never;
  } as typeof original;
  return {
    hold() {
      gate = new Promise((r) => (release = r));
    },
    release() {
      gate = null;
      release();
    },
    get caught() {
      return caught;
    },
    /** Lane calls with acks that Redis has answered. */
    get applied() {
      return applied;
    },
    restore() {
      release();
      RedisConn.prototype.run = original;
    },
  };
}

test("an ack delayed past a reap must not delete the state of the next job another blocker picked into the same slot", async () => {
  const finish = new Map<string, () => void>();
  const started: string[] = [];
  const finished: string[] = [];
  const registry = registryWith({
    Hold: (_q: string, tag: string) =>
      new Promise<void>((resolve) => {
        started.push(tag);
        finish.set(tag, () => {
          finished.push(tag);
          resolve();
        });
      }),
  });
  const acks = holdAcks();
  // One lane of two slots; two queues, so two blockers, whose waits end every 1.9 s (manager.ts blockMs). A lane
  // lends a slot only while it keeps another free one, so one blocker waits with slot 0, the other without.
  const w = startWorker(registry, { namespace: ns, queues: ["sa", "sb"], concurrency: 2, connections: 1, heartbeatInterval: 0.1, deadAfter: 1, commandTimeout: 5, shutdownTimeout: 0.2, interval: 60 });
  const keys = makeKeys(ns);
  const proc = w.launcher.ctx.proc;
  const s0 = w.launcher.ids[0] as string;
  // Internals, read only, to wait for the moments that matter: a blocker borrowing slot 0.
  type Internals = { manager?: { lanes?: { slots?: { id: string; lent: boolean }[] }[] } };
  const slots = (w.launcher as unknown as Internals).manager?.lanes?.[0]?.slots;
  if (!slots) throw new Error("this test reads Launcher.manager.lanes[0].slots (the slots' `lent` flags); adapt it to the new internals");
  const slot0 = () => slots.find((s) => s.id === s0);
  try {
    // The blockers start in queue order and wait for the gate; sa's is released first and borrows slot 0. With
    // two slots a lane lends one only while it keeps another free: sb's blocker waits without a slot (and so
    // hands out no token) for as long as slot 0 is lent or busy.
    await waitFor(() => slot0()?.lent, 5000, "the first blocker to borrow slot 0");
    const [first, second] = ["sa", "sb"];
    // 1. j1 is picked into slot 0 by the first blocker: the first pickup token, "p1".
    await c.rpush(keys.queue(first), '{"class":"Hold","args":["j1"]}');
    await waitFor(() => started.includes("j1"), 5000, "j1 to start");
    if (!(await c.get(keys.worker(s0)))?.includes('"j1"')) throw new Error("precondition: j1 should have been picked into slot 0 by sa's blocker");
    const j1Token = JSON.stringify(await c.hgetall(keys.lanes(proc)));
    // The first blocker is kept out of the way: its queue key turns into a hash, so its next wait fails and it
    // sleeps for --interval (60 s). Only the second blocker borrows slots from now on.
    await c.hset(keys.queue(first), "planted", "by the test");
    await waitFor(() => w.logs.some((l) => l.includes(`${keys.queue(first)} is not a list`)), 5000, "the first blocker to fail on its queue");

    // 2. Another worker's reaper releases this process (it was frozen, or its beat was late): j1's state goes.
    const r = await releaseProcess(c, keys, { proc, mode: "fail", failedAt: failedAt(new Date()) });
    expect(r).toEqual({ requeued: 0, failed: 1, unregistered: 2 });
    expect(await c.get(keys.worker(s0))).toBeNull();
    // 3. The next heartbeat registers it again, as designed.
    await waitFor(async () => (await c.scard(keys.workers)) === 2, 5000, "re-registration");

    // 4. j1 finishes; its ack ("slot 0, token p1, done") is on its way, slowly.
    acks.hold();
    finish.get("j1")?.();
    await waitFor(() => acks.caught > 0, 5000, "j1's ack to be sent");
    // 5. The second blocker's wait ends (1 s); with two free slots it borrows slot 0 for its first pickup (with
    //    per-blocker counters its token was "p1" again).
    await waitFor(() => slot0()?.lent, 5000, "the second blocker to borrow slot 0");
    await c.rpush(keys.queue(second), '{"class":"Hold","args":["j2"]}');
    await waitFor(() => started.includes("j2"), 5000, "j2 to start");
    const stateBefore = await c.get(keys.worker(s0));
    const j2Token = JSON.stringify(await c.hgetall(keys.lanes(proc)));
    // 6. j1's ack arrives and is applied.
    acks.release();
    await waitFor(() => acks.applied > 0, 5000, "j1's ack to be applied");
    const stateAfter = await c.get(keys.worker(s0));
    const j2Running = started.includes("j2") && !finished.includes("j2");
    // 7. The worker stops (or is killed, or reaped) while j2 runs: j2 must go back to its queue.
    w.launcher.stop("now");
    await w.done;
    const queueAfterStop = await c.lrange(keys.queue(second), 0, -1);
    console.log(`stale ack: j1 had token ${j1Token}, j2 got ${j2Token}; worker:<slot 0> held ${stateBefore} before j1's ack and ${stateAfter} after it; stat:processed ${await c.get(keys.processed)}; ${keys.queue(second)} after the stop: ${JSON.stringify(queueAfterStop)}`);
    expect(stateBefore).toContain('"j2"');
    expect({ j2Running, j2StateAfterJ1sAck: stateAfter, queueAfterStop }).toEqual({
      j2Running: true,
      j2StateAfterJ1sAck: expect.stringContaining('"j2"') as unknown as string,
      queueAfterStop: ['{"class":"Hold","args":["j2"]}'],
    });
  } finally {
    acks.restore();
    w.launcher.stop("now");
    await w.done.catch(() => {});
  }
});

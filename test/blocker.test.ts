// Issue #8 (and #10): the Gate, and one Blocker against a real Redis. The blocker's host is the test's: it
// lends a slot (or none) and records what the blocker hands back. A private redis-server, so that "the
// blocker is waiting" (blocked_clients) and "it failed N times" (errorstats) are exact.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { createConsola } from "consola/core";
import { Blocker, Gate, type BlockerHost, type Loan } from "../src/blocker";
import { resolveConfig } from "../src/config";
import type { WorkerContext } from "../src/context";
import { makeKeys, type Keys } from "../src/keys";
import { Lane, type Slot } from "../src/lane";
import { Outage } from "../src/retry";
import { defaultSettings } from "../src/settings";
import { dropNamespace, freshNamespace, startRedis, waitFor, type PrivateRedis } from "./helpers/redis";

describe("Gate", () => {
  test("wait() resolves at once when open, else at the next set(true)", async () => {
    const g = new Gate();
    expect(g.isOpen).toBe(false);
    const w = g.wait();
    g.set(false);
    expect(Bun.peek.status(w)).toBe("pending");
    g.set(true);
    expect(g.isOpen).toBe(true);
    expect(Bun.peek.status(w)).toBe("fulfilled");
    expect(Bun.peek.status(g.wait())).toBe("fulfilled");
    g.set(false);
    expect(Bun.peek.status(g.wait())).toBe("pending");
    g.set(true);
  });

  test("changed() resolves at the next set(), open or closed", () => {
    const g = new Gate();
    const a = g.changed();
    expect(Bun.peek.status(a)).toBe("pending");
    g.set(false);
    expect(Bun.peek.status(a)).toBe("fulfilled");
    g.set(true);
    const b = g.changed();
    expect(Bun.peek.status(b)).toBe("pending");
    g.set(false);
    expect(Bun.peek.status(b)).toBe("fulfilled");
  });

  test("release() lets current waiters go without opening the gate", () => {
    const g = new Gate();
    const w = g.wait();
    g.release();
    expect(Bun.peek.status(w)).toBe("fulfilled");
    expect(g.isOpen).toBe(false);
    expect(Bun.peek.status(g.wait())).toBe("pending");
    g.release();
  });
});

let server: PrivateRedis;
let c: RedisClient;
let ns: string;
let k: Keys;
let ctx: WorkerContext;
let stopAll: AbortController;
const PROC = "blockhost:1:inst";
const NOW = new Date("2031-02-03T04:05:06.789Z");
const RUN_AT = "2031-02-03T04:05:06Z";
const blockers: Blocker[] = [];
/** CLIENT IDs the blockers asked the host to unblock. */
const unblocks: number[] = [];

beforeAll(async () => {
  server = await startRedis();
  c = new RedisClient(server.url);
});
afterAll(async () => {
  c.close();
  await server.stop();
});
beforeEach(async () => {
  ns = freshNamespace();
  k = makeKeys(ns);
  const log = createConsola({ level: 0, reporters: [{ log: () => {} }] });
  // --interval 0.05: a wrong-type queue is looked at again every 50 ms
  const config = resolveConfig({ ...defaultSettings({}), uri: server.url, namespace: ns, queues: ["q"], interval: 0.05, commandTimeout: 2 }, { log, clock: { now: () => NOW } });
  stopAll = new AbortController();
  ctx = { config, proc: PROC, host: "blockhost", outage: new Outage(log, "test"), hardStop: stopAll.signal };
  await c.hset(k.beats, PROC, "1");
});
afterEach(async () => {
  for (const b of blockers.splice(0)) b.stop();
  stopAll.abort();
  await waitFor(async () => (await blocked()) === 0, 5000, "no blocked client left");
  await dropNamespace(c, ns);
});

const blocked = async () => Number(/blocked_clients:(\d+)/.exec((await c.send("INFO", ["clients"])) as string)?.[1] ?? -1);
const wrongTypeErrors = async () => Number(/errorstat_WRONGTYPE:count=(\d+)/.exec((await c.send("INFO", ["errorstats"])) as string)?.[1] ?? 0);

/** What the blocker handed back to the lane that lent it a slot. */
interface Returned {
  picked: { slot: Slot; token: string; queue: string; notUtf8: boolean; raw: string }[];
  given: { slot: Slot; unsure: boolean }[];
}

/**
 * A host that lends one slot (when `withSlot`) and, like the manager, closes the gate once something happened
 * (a job handed over, a slot given back, work seen), so that the blocker does not go round again.
 */
function host(gate: Gate, withSlot: boolean) {
  const slot: Slot = { id: "blockhost:1:q:0.inst", no: 0, job: null, lent: false };
  const back: Returned = { picked: [], given: [] };
  const lane = {
    startPicked: (s: Slot, token: string, queue: string, notUtf8: boolean, raw: string) => (back.picked.push({ slot: s, token, queue, notUtf8, raw }), gate.set(false)),
    giveBack: (s: Slot, unsure: boolean) => (back.given.push({ slot: s, unsure }), gate.set(false)),
    // the real decision between the two above
    settle: Lane.prototype.settle,
  } as unknown as Lane;
  const woken: string[] = [];
  const errors: [string, unknown][] = [];
  const h: BlockerHost = {
    lend: (): Loan | undefined => (withSlot && back.picked.length === 0 ? ((slot.lent = true), { lane, slot }) : undefined),
    nextToken: () => `p${back.picked.length + back.given.length + 1}`,
    onWork: (q) => (woken.push(q), gate.set(false)),
    onError: (q, e) => void errors.push([q, e]),
    retire: () => false,
    unblock: (id) => (unblocks.push(id), c.send("CLIENT", ["UNBLOCK", String(id)]).then(() => {})),
  };
  return { h, slot, back, woken, errors };
}

function blocker(queue: string, gate: Gate, h: BlockerHost): Blocker {
  const b = new Blocker(ctx, queue, gate, h, 10_000);
  blockers.push(b);
  return b;
}

const J = (tag: string) => `{"class":"J","args":["${tag}"]}`;

describe("Blocker", () => {
  test("with a lent slot, a pushed job is taken by the pipelined pickup into the slot's state and handed to startPicked", async () => {
    const gate = new Gate();
    const t = host(gate, true);
    gate.set(true);
    blocker("q", gate, t.h);
    await waitFor(async () => (await blocked()) === 1, 5000, "the blocking wait");
    await c.rpush(k.queue("q"), J("pushed"));
    await waitFor(() => t.back.picked.length === 1, 5000, "startPicked");
    expect(t.back.picked).toEqual([{ slot: t.slot, token: expect.any(String), queue: "q", notUtf8: false, raw: J("pushed") }]);
    expect(await c.get(k.worker(t.slot.id))).toBe(`{"queue":"q","run_at":"${RUN_AT}","payload":${J("pushed")}}`);
    expect(await c.llen(k.queue("q"))).toBe(0);
    // the queue holds nothing more: nobody else is woken, and the slot is not given back
    expect(t.woken).toEqual([]);
    expect(t.back.given).toEqual([]);
    expect(t.errors).toEqual([]);
  });

  test.each<{ withSlot: boolean; queue: string[]; picked: string[] }>([
    { withSlot: true, queue: [J("b"), J("c")], picked: [J("a")] },
    { withSlot: false, queue: [J("a"), J("b"), J("c")], picked: [] },
  ])("the wait leaves a multi-element queue in order (with a slot: $withSlot); a queue with jobs left wakes a lane", async ({ withSlot, queue, picked }) => {
    await c.rpush(k.queue("q"), J("a"), J("b"), J("c"));
    const gate = new Gate();
    const t = host(gate, withSlot);
    gate.set(true);
    blocker("q", gate, t.h);
    await waitFor(() => t.woken.length > 0, 5000, "onWork");
    expect(t.woken).toEqual(["q"]);
    expect(t.back.picked.map((p) => p.raw)).toEqual(picked);
    expect(await c.lrange(k.queue("q"), 0, -1)).toEqual(queue);
  });

  test("without a slot, a push only wakes (onWork): the job stays in its queue", async () => {
    const gate = new Gate();
    const t = host(gate, false);
    gate.set(true);
    blocker("q", gate, t.h);
    await waitFor(async () => (await blocked()) === 1, 5000, "the blocking wait");
    await c.rpush(k.queue("q"), J("pushed"));
    await waitFor(() => t.woken.length > 0, 5000, "onWork");
    expect(t.woken).toEqual(["q"]);
    expect(await c.lrange(k.queue("q"), 0, -1)).toEqual([J("pushed")]);
    expect(await c.exists(k.worker(t.slot.id))).toBe(false);
  });

  test("a closed gate: no wait is sent until it opens", async () => {
    const gate = new Gate();
    const t = host(gate, true);
    blocker("q", gate, t.h);
    await c.rpush(k.queue("q"), J("early"));
    // A witness started later on an open gate gets as far as its blocking wait: the first one had the time to.
    const open = new Gate();
    open.set(true);
    blocker("witness", open, host(open, false).h);
    await waitFor(async () => (await blocked()) === 1, 5000, "the witness's blocking wait");
    expect(t.back.picked).toEqual([]);
    expect(await c.llen(k.queue("q"))).toBe(1);
    expect(await c.exists(k.worker(t.slot.id))).toBe(false);
    gate.set(true);
    await waitFor(() => t.back.picked.length === 1, 5000, "startPicked once the gate opened");
  });

  test("cancel() ends a pending wait and gives the slot back as unsure, without reporting an error", async () => {
    const gate = new Gate();
    const t = host(gate, true);
    gate.set(true);
    const b = blocker("q", gate, t.h);
    await waitFor(async () => (await blocked()) === 1, 5000, "the blocking wait");
    b.cancel();
    await waitFor(() => t.back.given.length === 1, 5000, "the slot back");
    expect(t.back.given).toEqual([{ slot: t.slot, unsure: true }]);
    await waitFor(async () => (await blocked()) === 0, 5000, "the wait to end");
    expect(t.errors).toEqual([]);
    expect(ctx.outage.down).toBe(false);
  });

  test("reclaim() ends an idle wait at once on the same connection (CLIENT UNBLOCK) and gives the slot back for a fetch (#14)", async () => {
    const gate = new Gate();
    const t = host(gate, true);
    gate.set(true);
    const b = blocker("q", gate, t.h);
    await waitFor(async () => (await blocked()) === 1, 5000, "the blocking wait");
    const connections = Number(/connected_clients:(\d+)/.exec((await c.send("INFO", ["clients"])) as string)?.[1]);
    b.reclaim();
    await waitFor(() => t.back.given.length === 1, 5000, "the slot back");
    // unsure = true: the lane fetches at once with it (there are jobs it could not take).
    expect(t.back.given).toEqual([{ slot: t.slot, unsure: true }]);
    expect(unblocks).toHaveLength(1);
    await waitFor(async () => (await blocked()) === 0, 5000, "the wait to end");
    // The same connection: nothing was dropped or opened.
    expect(Number(/connected_clients:(\d+)/.exec((await c.send("INFO", ["clients"])) as string)?.[1])).toBe(connections);
    expect(t.errors).toEqual([]);
    unblocks.length = 0;
  });

  test("a queue key of another type is reported once through onError, however often the wait fails", async () => {
    await c.set(k.queue("q"), "not a list");
    const before = await wrongTypeErrors();
    const gate = new Gate();
    const t = host(gate, false);
    gate.set(true);
    blocker("q", gate, t.h);
    await waitFor(async () => (await wrongTypeErrors()) >= before + 4, 5000, "four failed waits");
    expect(t.errors).toHaveLength(1);
    const [queue, e] = t.errors[0] as [string, unknown];
    expect(queue).toBe("q");
    expect((e as Error).message).toMatch(/WRONGTYPE/);
    expect(t.woken).toEqual([]);
    expect(await c.get(k.queue("q"))).toBe("not a list");
  });
});

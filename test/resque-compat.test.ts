// Issue #2: what Resque's own tools read, byte for byte as shared/reference/resque-data-model.md records it.
import { describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import type { RedisClient } from "bun";
import { client, isolate, waitFor } from "./helpers/redis";
import { registryWith, startWorker } from "./helpers/in-process";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

const push = (queue: string, ...items: string[]) => c.send("RPUSH", [`${ns}queue:${queue}`, ...items]);

describe("registration", () => {
  test("each slot is a Resque worker host:pid:queues:slot with a started time, removed on exit", async () => {
    const w = startWorker(registryWith({}), { namespace: ns, queues: ["high", "low"], concurrency: 3 });
    await waitFor(async () => (await c.scard(`${ns}workers`)) === 3, 5000, "3 registered workers");
    const ids = (await c.smembers(`${ns}workers`)).sort();
    const host = hostname().replace(/:/g, "_");
    // host:pid:queues:slot.instance: the instance id keeps two processes with equal host and pid apart (issue #9)
    expect(ids.map((id) => id.replace(/\.\w+$/, ""))).toEqual([0, 1, 2].map((i) => `${host}:${process.pid}:high,low:${i}`));
    for (const id of ids) {
      // Ruby's Time.now.to_s
      expect(await c.get(`${ns}worker:${id}:started`)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}$/);
      // Time#iso8601, which Ruby's Time.parse reads (an unreadable value kills Ruby workers at start-up)
      expect(await c.hget(`${ns}workers:heartbeat`, id)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
      // Resque's Worker.find: split(':') -> host, pid.to_i, queues
      const [h, pid, queues] = id.split(":");
      expect([h, Number(pid), queues?.split(",")]).toEqual([host, process.pid, ["high", "low"]]);
    }
    w.launcher.stop();
    await w.done;
    expect(await c.scard(`${ns}workers`)).toBe(0);
    expect(await c.hlen(`${ns}workers:heartbeat`)).toBe(0);
    expect((await c.keys(`${ns}worker:*`)).length).toBe(0);
    expect((await c.keys(`${ns}stat:*:*`)).length).toBe(0);
  });
});

describe("jobs and stats", () => {
  test("runs RPUSHed jobs with their args; stat:processed counts every finished job, stat:failed the failures", async () => {
    const seen: unknown[] = [];
    const registry = registryWith({
      Add: (q: string, a: number, b: number) => void seen.push([q, a + b]),
      Boom: () => {
        throw new TypeError("no good");
      },
    });
    await push("math", '{"class":"Add","args":[1,2]}', '{"class":"Boom","args":["x"]}', '{"class":"Add","args":[40,2]}');
    const w = startWorker(registry, { namespace: ns, queues: ["math"], concurrency: 2, exitOnComplete: true });
    await w.done;
    expect(seen.sort()).toEqual([["math", 3], ["math", 42]]);
    expect(await c.get(`${ns}stat:processed`)).toBe("3");
    expect(await c.get(`${ns}stat:failed`)).toBe("1");
  });

  test("worker:<id> holds {queue, run_at, payload} while a job runs, with the original payload bytes", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const raw = '{"class":"Hold","args":[18446744073709551616,1.0,"ünï"],"meta":{"k":"v"}}';
    await push("q", raw);
    const w = startWorker(registryWith({ Hold: () => gate }), { namespace: ns, queues: ["q"], concurrency: 1 });
    const id = await waitFor(async () => (await c.smembers(`${ns}workers`))[0], 5000, "registration");
    const state = await waitFor(() => c.get(`${ns}worker:${id}`), 5000, "worker state");
    expect(state).toMatch(/^\{"queue":"q","run_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","payload":/);
    expect(state.slice(state.indexOf('"payload":') + 10, -1)).toBe(raw);
    expect(JSON.parse(state).queue).toBe("q");
    release();
    await waitFor(async () => (await c.get(`${ns}stat:processed`)) === "1", 5000, "processed");
    expect(await c.get(`${ns}worker:${id}`)).toBeNull();
    expect(await c.get(`${ns}stat:processed:${id}`)).toBe("1");
    w.launcher.stop();
    await w.done;
  });
});

describe("failure entries", () => {
  test("keys in Resque's order, failed_at format, class name as exception, backtrace an array, payload unchanged", async () => {
    class CardDeclined extends Error {}
    const raw = '{"class":"Charge","args":[18446744073709551616,"ünï"],"id":"abc"}';
    await push("pay", raw);
    const w = startWorker(registryWith({ Charge: () => { throw new CardDeclined("declined: ünï"); } }), { namespace: ns, queues: ["pay"], exitOnComplete: true, concurrency: 1 });
    await w.done;
    const entry = (await c.lindex(`${ns}failed`, 0)) as string;
    const parsed = JSON.parse(entry);
    expect(Object.keys(parsed)).toEqual(["failed_at", "payload", "exception", "error", "backtrace", "worker", "queue"]);
    expect(parsed.failed_at).toMatch(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d UTC$/);
    expect(entry).toContain(`"payload":${raw},`);
    expect(parsed.exception).toBe("CardDeclined");
    expect(parsed.error).toBe("declined: ünï");
    expect(Array.isArray(parsed.backtrace)).toBe(true);
    expect(parsed.backtrace.length).toBeGreaterThan(0);
    expect(parsed.backtrace.every((l: unknown) => typeof l === "string")).toBe(true);
    expect(parsed.worker).toMatch(new RegExp(`:${process.pid}:pay:0\\.\\w+$`));
    expect(parsed.queue).toBe("pay");
  });

  test("an unregistered class fails with an error naming class and queue", async () => {
    await push("q1", '{"class":"Nobody","args":[1]}');
    const w = startWorker(registryWith({}), { namespace: ns, queues: ["q1"], exitOnComplete: true });
    await w.done;
    const f = JSON.parse((await c.lindex(`${ns}failed`, 0)) as string);
    expect(f.exception).toBe("UnknownJobError");
    expect(f.error).toContain('"Nobody"');
    expect(f.error).toContain('"q1"');
    expect(await c.get(`${ns}stat:processed`)).toBe("1");
    expect(await c.get(`${ns}stat:failed`)).toBe("1");
  });

  test("broken queue items become failure entries that keep the raw item, and the worker carries on", async () => {
    const items = ["this is not json", "null", "[1,2]", '"str"', '{"args":[1]}', '{"class":"Ok","args":{"k":"v"}}', '{"class":42}'];
    const ran: string[] = [];
    await push("bad", ...items, '{"class":"Ok","args":["sentinel"]}');
    const w = startWorker(registryWith({ Ok: (_q: string, a: string) => void ran.push(a) }), { namespace: ns, queues: ["bad"], exitOnComplete: true });
    await w.done;
    expect(ran).toEqual(["sentinel"]);
    const failures = ((await c.lrange(`${ns}failed`, 0, -1)) as string[]).map((e) => JSON.parse(e));
    expect(failures.length).toBe(items.length);
    // each keeps the raw item as the one argument of a job Resque's tools can show and retry (issue #9)
    expect(failures.every((f) => f.payload.class === "Bunworker::MalformedPayload")).toBe(true);
    const kept = failures.map((f) => f.payload.args[0]);
    expect(kept.sort()).toEqual([...items].sort());
    for (const f of failures) expect(f.exception).toBe("MalformedPayloadError");
    expect(await c.get(`${ns}stat:processed`)).toBe(String(items.length + 1));
  });

  test("Resque's Failure.requeue and Failure.remove work on our entries", async () => {
    await push("rq", '{"class":"Flaky","args":[7],"extra":1}');
    let calls = 0;
    const registry = registryWith({ Flaky: () => { if (++calls === 1) throw new Error("first time"); } });
    const w = startWorker(registry, { namespace: ns, queues: ["rq"], exitOnComplete: true });
    await w.done;
    // Failure.requeue(0): LINDEX, add retried_at, LSET in place, then Job.create(queue, class, *args)
    const entry = JSON.parse((await c.lindex(`${ns}failed`, 0)) as string);
    entry.retried_at = "2026/11/27 10:00:00 UTC";
    await c.send("LSET", [`${ns}failed`, "0", JSON.stringify(entry)]);
    await c.sadd(`${ns}queues`, entry.queue);
    await c.rpush(`${ns}queue:${entry.queue}`, JSON.stringify({ class: entry.payload.class, args: entry.payload.args }));
    const again = startWorker(registry, { namespace: ns, queues: ["rq"], exitOnComplete: true });
    await again.done;
    expect(calls).toBe(2);
    // Failure.remove(0): LSET "" then LREM 1 ""
    await c.send("LSET", [`${ns}failed`, "0", ""]);
    await c.send("LREM", [`${ns}failed`, "1", ""]);
    expect(await c.llen(`${ns}failed`)).toBe(0);
  });
});

describe("queues", () => {
  test("strict priority without weights: the first queue drains first", async () => {
    const order: string[] = [];
    await push("low", ...[1, 2, 3].map((i) => `{"class":"J","args":["low${i}"]}`));
    await push("high", ...[1, 2, 3].map((i) => `{"class":"J","args":["high${i}"]}`));
    const w = startWorker(registryWith({ J: (_q: string, t: string) => void order.push(t) }), { namespace: ns, queues: ["high", "low"], concurrency: 1, exitOnComplete: true });
    await w.done;
    expect(order).toEqual(["high1", "high2", "high3", "low1", "low2", "low3"]);
  });

  test("weights high=2,low=1: with both full, high is served about twice as often", async () => {
    const order: string[] = [];
    await push("high", ...Array.from({ length: 300 }, () => '{"class":"J","args":["h"]}'));
    await push("low", ...Array.from({ length: 300 }, () => '{"class":"J","args":["l"]}'));
    const w = startWorker(registryWith({ J: (_q: string, t: string) => void order.push(t) }), { namespace: ns, queues: ["high=2", "low=1"], concurrency: 1, connections: 1, exitOnComplete: true });
    await w.done;
    const first = order.slice(0, 300);
    const highs = first.filter((t) => t === "h").length;
    expect(highs).toBe(200);
  });

  test("* serves every queue in <ns>queues in alphabetical order; !skip excludes", async () => {
    const order: string[] = [];
    for (const q of ["b", "a", "skipme", "c"]) {
      await c.sadd(`${ns}queues`, q);
      await push(q, `{"class":"J","args":["${q}"]}`);
    }
    const w = startWorker(registryWith({ J: (_q: string, t: string) => void order.push(t) }), { namespace: ns, queues: ["*", "!skip*"], concurrency: 1, exitOnComplete: true });
    await w.done;
    expect(order).toEqual(["a", "b", "c"]);
    expect(await c.llen(`${ns}queue:skipme`)).toBe(1);
  });
});

describe("numbers", () => {
  test("use-number passes integers beyond 2^53 exactly as bigint; stored payloads keep the bytes either way", async () => {
    const got: unknown[] = [];
    const raw = '{"class":"Big","args":[18446744073709551616,-1180591620717411303424,42,1.5]}';
    await push("n", raw);
    const w = startWorker(registryWith({ Big: (_q: string, ...a: unknown[]) => void got.push(...a) }), { namespace: ns, queues: ["n"], useNumber: true, exitOnComplete: true });
    await w.done;
    expect(got).toEqual([18446744073709551616n, -1180591620717411303424n, 42, 1.5]);
  });
});

describe("pause", () => {
  test("pause-all-workers = \"TRUE\" keeps jobs queued; deleting it lets them run (Resque's pause key)", async () => {
    await c.set(`${ns}pause-all-workers`, "TRUE");
    const ran: string[] = [];
    const w = startWorker(registryWith({ J: (_q: string, t: string) => void ran.push(t) }), { namespace: ns, queues: ["p"], heartbeatInterval: 0.1 });
    await waitFor(async () => (await c.scard(`${ns}workers`)) > 0, 5000, "registration");
    await push("p", '{"class":"J","args":["held"]}');
    const proc = await waitFor(async () => Object.keys(await c.hgetall(`${ns}bunworker:beats`)).find((p) => p.startsWith(`${hostname().replace(/:/g, "_")}:${process.pid}:`)), 5000, "our beat");
    const beat = await c.hget(`${ns}bunworker:beats`, proc);
    await waitFor(async () => (await c.hget(`${ns}bunworker:beats`, proc)) !== beat, 5000, "a heartbeat");
    await waitFor(async () => (await c.hget(`${ns}bunworker:beats`, proc)) !== beat, 5000, "another heartbeat");
    expect(await c.llen(`${ns}queue:p`)).toBe(1);
    expect(ran).toEqual([]);
    await c.del(`${ns}pause-all-workers`);
    await waitFor(() => ran.length === 1, 5000, "the job after unpausing");
    w.launcher.stop();
    await w.done;
  });
});

describe("an idle worker (blocking wait, no polling)", () => {
  test("a job pushed while it waits runs at once, shows as the slot's state while running, and leaves nothing behind", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const ran: string[] = [];
    const w = startWorker(registryWith({ Hold: (_q: string, t: string) => (ran.push(t), gate) }), { namespace: ns, queues: ["a", "b", "c"], concurrency: 2 });
    await waitFor(async () => (await c.scard(`${ns}workers`)) === 2, 5000, "registration");
    // Let every blocker reach its BLMOVE: the last queue is served as fast as the first.
    await waitFor(async () => ((await c.send("INFO", ["clients"])) as string).match(/blocked_clients:(\d+)/)?.[1] !== "0", 5000, "blocked waits");
    await push("c", '{"class":"Hold","args":["pushed-later"]}');
    await waitFor(() => ran.length === 1, 5000, "the job to start");
    const states = await waitFor(async () => {
      const vals = await Promise.all((await c.smembers(`${ns}workers`)).map((id) => c.get(`${ns}worker:${id}`)));
      return vals.filter(Boolean).length === 1 ? vals.filter(Boolean) : null;
    }, 5000, "the slot's state");
    expect(JSON.parse(states[0] as string)).toMatchObject({ queue: "c", payload: { class: "Hold", args: ["pushed-later"] } });
    release();
    await waitFor(async () => (await c.get(`${ns}stat:processed`)) === "1", 5000, "the ack");
    expect((await c.keys(`${ns}bunworker:*`)).filter((k) => !/bunworker:(processes|beats|lanes:)/.test(k))).toEqual([]);
    w.launcher.stop();
    await w.done;
    expect(ran).toEqual(["pushed-later"]);
    expect(await c.llen(`${ns}queue:c`)).toBe(0);
  });
});

describe("dynamic queue lists", () => {
  test("with *, a queue created while the worker runs is picked up (and waited on) without a restart", async () => {
    const ran: string[] = [];
    const w = startWorker(registryWith({ J: (_q: string, t: string) => void ran.push(t) }), { namespace: ns, queues: ["*"], interval: 0.1 });
    await waitFor(async () => (await c.scard(`${ns}workers`)) > 0, 5000, "registration");
    await c.sadd(`${ns}queues`, "born-later");
    await push("born-later", '{"class":"J","args":["first"]}');
    await waitFor(() => ran.length === 1, 5000, "the first job of the new queue");
    // now idle again: a push to the new queue is picked up by its blocking wait
    await push("born-later", '{"class":"J","args":["second"]}');
    await waitFor(() => ran.length === 2, 5000, "the second job");
    expect(ran).toEqual(["first", "second"]);
    w.launcher.stop();
    await w.done;
  });
});

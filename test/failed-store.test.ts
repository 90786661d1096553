// Bulk requeue and remove of failed jobs (#18) while others write the same list: workers append failures and
// a Ruby process removes entries with Resque's own LSET ""/LREM. Nothing is lost, nothing done twice, and the
// counts reported are what happened.
import { describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { bulkFailed, decodeEntry, matcher, removeEntries, requeueEntries } from "../src/failed-store";
import { makeKeys, type Keys } from "../src/keys";
import { client, isolate, REDIS_URL } from "./helpers/redis";
import { MAIN_WORKER } from "./helpers/worker-process";
import { mulberry32 as seeded } from "./helpers/seeded";

let c: RedisClient;
let keys: Keys;
isolate((cl, ns) => {
  c = cl;
  keys = makeKeys(ns);
});

const entry = (i: number, queue = "q") =>
  `{"failed_at":"2026/11/27 04:18:30 UTC","payload":{"class":"Job${i % 3}","args":[${i}]},"exception":"E${i % 2}","error":"e","backtrace":[],"worker":"vm:1:q","queue":"${queue}"}`;

async function seed(n: number): Promise<string[]> {
  const all = Array.from({ length: n }, (_, i) => entry(i));
  for (let i = 0; i < n; i += 1000) await c.send("RPUSH", [keys.failed, ...all.slice(i, i + 1000)]);
  return all;
}

/** Resque::Failure.remove(index) as Ruby sends it: two commands, not atomic. */
async function rubyRemove(other: RedisClient, index: number): Promise<string | null> {
  const raw = (await other.send("LINDEX", [keys.failed, String(index)])) as string | null;
  if (raw === null) return null;
  await other.send("LSET", [keys.failed, String(index), ""]);
  await other.send("LREM", [keys.failed, "1", ""]);
  return raw;
}

describe("bulk requeue and remove under concurrent writers", () => {
  test.each([1, 2, 3])("requeue --all (seed %i): every entry there at the start and never removed is requeued once", async (seedNo) => {
    const rnd = seeded(seedNo);
    const original = await seed(5000);
    const other = client();
    const appended: string[] = [];
    const removed = new Set<string>();
    let stop = false;
    const writer = (async () => {
      for (let k = 0; !stop; k++) {
        if (rnd() < 0.5) {
          const e = entry(100000 + k, "late");
          appended.push(e);
          await other.send("RPUSH", [keys.failed, e]);
        } else {
          const len = (await other.send("LLEN", [keys.failed])) as number;
          const raw = await rubyRemove(other, Math.floor(rnd() * Math.min(len, 5000)));
          if (raw) removed.add(raw.replace(/,"retried_at":"[^"]*"/, ""));
        }
      }
    })();
    const r = await bulkFailed(c, keys, "requeue", {}, new Date(), {});
    stop = true;
    await writer;
    other.close();
    const list = (await c.send("LRANGE", [keys.failed, "0", "-1"])) as string[];
    const stillThere = original.filter((e) => !removed.has(e));
    const retried = list.filter((e) => e.includes('"retried_at"')).map((e) => e.replace(/,"retried_at":"[^"]*"/, ""));
    expect(removed.size).toBeGreaterThan(0);
    expect(appended.length).toBeGreaterThan(0);
    expect(retried.sort()).toEqual(stillThere.sort());
    // Appended entries are left alone, and jobs pushed = entries reported requeued.
    for (const e of appended) if (!removed.has(e)) expect(list).toContain(e);
    expect(await c.send("LLEN", [keys.queue("q")])).toBe(r.done);
    expect(r.done + r.missing).toBeGreaterThanOrEqual(stillThere.length);
    expect(r.done).toBeLessThanOrEqual(5000);
  });

  test("remove --all with a filter while others append and remove: exactly the matching entries go", async () => {
    const rnd = seeded(7);
    const original = await seed(4000);
    const other = client();
    // Ruby's remove is LSET i "" then LREM, not atomic with the read before it: which entry it hits depends on
    // the moment, so only its number of removals is known.
    let rubyRemovals = 0;
    let stop = false;
    const writer = (async () => {
      for (let k = 0; !stop; k++) {
        if (rnd() < 0.5) await other.send("RPUSH", [keys.failed, entry(200000 + k, "late")]);
        else if (await rubyRemove(other, Math.floor(rnd() * 3000))) rubyRemovals++;
      }
    })();
    const r = await bulkFailed(c, keys, "remove", { class: "Job1" }, new Date(), {});
    stop = true;
    await writer;
    other.close();
    const list = new Set((await c.send("LRANGE", [keys.failed, "0", "-1"])) as string[]);
    expect(list.has("")).toBe(false);
    const job1 = original.filter((e) => e.includes('"class":"Job1"'));
    expect(job1.filter((e) => list.has(e))).toEqual([]);
    const othersGone = original.filter((e) => !e.includes('"class":"Job1"') && !list.has(e)).length;
    const job1ByRuby = job1.length - r.done;
    expect(rubyRemovals).toBeGreaterThan(0);
    expect(r.done).toBeLessThanOrEqual(job1.length);
    expect(othersGone + job1ByRuby).toBeLessThanOrEqual(rubyRemovals);
    expect(r.done + r.missing).toBeGreaterThanOrEqual(job1.length);
  });

  test("a stale index still finds its entry by its bytes; an entry gone is counted, not guessed", async () => {
    const all = await seed(10);
    const e7 = decodeEntry(7, all[7] as string);
    const e8 = decodeEntry(8, all[8] as string);
    await rubyRemove(c, 0); // every index moves down by one
    expect(await removeEntries(c, keys, [e7])).toEqual({ done: 1, missing: 0, unreadable: 0 });
    expect((await c.send("LRANGE", [keys.failed, "0", "-1"])) as string[]).not.toContain(all[7]);
    await rubyRemove(c, 6); // entry 8 (now at 6) removed by someone else
    expect(await requeueEntries(c, keys, [e8], new Date())).toEqual({ done: 0, missing: 1, unreadable: 0 });
    expect(await c.send("EXISTS", [keys.queue("q")])).toBe(0);
  });

  test("a wrong-type queue key: the whole requeue call changes nothing", async () => {
    await seed(3);
    await c.send("SET", [keys.queue("q"), "not a list"]);
    const entries = ((await c.send("LRANGE", [keys.failed, "0", "-1"])) as string[]).map((r, i) => decodeEntry(i, r));
    await expect(requeueEntries(c, keys, entries, new Date())).rejects.toThrow(/queue:q is a string/);
    expect(((await c.send("LRANGE", [keys.failed, "0", "-1"])) as string[]).some((e) => e.includes("retried_at"))).toBe(false);
  });
});

describe("an operator killed mid-way", () => {
  test("SIGKILL during requeue --all: every entry is either retried with its job pushed, or untouched", async () => {
    await seed(100_000);
    const p = Bun.spawn([process.execPath, MAIN_WORKER, "failed", "requeue", "--all", `--namespace=${keys.ns}`, `--uri=${REDIS_URL}`], { stdout: "ignore", stderr: "ignore" });
    // Polled without backoff (waitFor's grows to 100 ms) so that the kill lands while calls remain.
    const deadline = Date.now() + 30_000;
    while (((await c.send("LLEN", [keys.queue("q")])) as number) === 0) if (Date.now() > deadline) throw new Error("no job was requeued within 30 s");
    p.kill("SIGKILL");
    await p.exited;
    const list = (await c.send("LRANGE", [keys.failed, "0", "-1"])) as string[];
    const retried = list.filter((e) => e.includes('"retried_at"'));
    const jobs = (await c.send("LRANGE", [keys.queue("q"), "0", "-1"])) as string[];
    expect(list).toHaveLength(100_000);
    expect(jobs.length).toBe(retried.length);
    expect(retried.length).toBeLessThan(100_000);
    // The jobs pushed are exactly those of the retried entries, in order.
    expect(jobs).toEqual(retried.map((e) => `{"class":${/"class":("[^"]*")/.exec(e)?.[1]},"args":${/"args":(\[[^\]]*\])/.exec(e)?.[1]}}`));
  }, 60_000);
});

describe("filters", () => {
  test("exact field equality; a name any encoder may escape (Go writes < as \\u003c) is still found", () => {
    const go = '{"failed_at":"x","payload":{"class":"\\u003cimg\\u003e","args":[]},"exception":"Error","error":"e","backtrace":null,"worker":"w","queue":"q3"}';
    expect(matcher({ class: "<img>" })(go)).toBe(true);
    expect(matcher({ queue: "q3" })(go)).toBe(true);
    expect(matcher({ queue: "q" })(go)).toBe(false);
    expect(matcher({ exception: "Error", queue: "q30" })(go)).toBe(false);
    expect(matcher({ class: "q3" })(go)).toBe(false); // the name appears, but not as the class
    expect(matcher({ queue: "q3" })("not json \"q3\"")).toBe(false);
    expect(matcher({})("anything")).toBe(true);
  });
});

// The dashboard's per-minute history (#18): recorded in Redis by every worker's heartbeat, once a minute,
// bounded; charted as differences between minutes, so it survives a restart of the dashboard.
import { describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { perMinute, readHistory, recordMinute } from "../src/history";
import type { Keys } from "../src/keys";
import { BadKeyError } from "../src/scripts";
import { parseUri } from "../src/uri";
import { startDashboard } from "../src/web/server";
import { isolateKeys, REDIS_URL, waitFor } from "./helpers/redis";
import { registryWith, startWorker } from "./helpers/in-process";
import { spawnWorker } from "./helpers/worker-process";

let c: RedisClient;
let keys: Keys;
let ns: string;
isolateKeys((t) => ({ c, ns, keys } = t));

describe("perMinute", () => {
  const now = 1_000 * 60_000 + 30_000; // half-way through minute 1000
  test("differences between snapshots; a gap is spread over its minutes; a counter reset counts 0", () => {
    const pts = perMinute({ "996": "100|1", "997": "160|3", "999": "200|3", "1000": "10|0" }, now, 5);
    expect(pts.map((p) => p.at / 60_000)).toEqual([995, 996, 997, 998, 999]);
    expect(pts.map((p) => p.processed)).toEqual([0, 60, 20, 20, 0]);
    expect(pts.map((p) => p.failed)).toEqual([0, 2, 0, 0, 0]);
  });
  test("garbage fields are ignored", () => {
    expect(perMinute({ x: "1|2", "999": "a|b" }, now, 2).every((p) => p.processed === 0)).toBe(true);
  });
});

describe("recordMinute (history-3.lua)", () => {
  test("records Resque's counters once per minute", async () => {
    await c.send("SET", [keys.processed, "42"]);
    await c.send("SET", [keys.failedCount, "7"]);
    expect(await recordMinute(c, keys)).toBe(1);
    await c.send("SET", [keys.processed, "50"]);
    expect(await recordMinute(c, keys)).toBe(0);
    const h = (await c.send("HGETALL", [keys.history])) as Record<string, string>;
    expect(Object.values(h)).toEqual(["42|7"]);
  });

  test("bounded: minutes older than 65 are dropped once it holds more than 70", async () => {
    const [t] = (await c.send("TIME", [])) as [string];
    const nowMin = Math.floor(Number(t) / 60);
    await c.send("HSET", [keys.history, ...Array.from({ length: 100 }, (_, i) => [String(nowMin - 1 - i), "1|0"]).flat()]);
    await recordMinute(c, keys, true);
    const fields = Object.keys((await c.send("HGETALL", [keys.history])) as Record<string, string>).map(Number);
    expect(fields.length).toBeLessThanOrEqual(70);
    expect(Math.min(...fields)).toBeGreaterThanOrEqual(nowMin - 65);
    expect(fields).toContain(nowMin);
  });

  test("a wrong-type key: BadKeyError, nothing written; the overview still answers, saying why it has no charts", async () => {
    await c.send("SET", [keys.history, "oops"]);
    await expect(recordMinute(c, keys)).rejects.toBeInstanceOf(BadKeyError);
    expect(await c.send("GET", [keys.history])).toBe("oops");
    const dash = startDashboard({ target: parseUri(REDIS_URL, { tlsCert: "", insecureTls: false }), keys, commandTimeoutMs: 5000, host: "127.0.0.1", port: 0, readOnly: true, deadAfter: 300 });
    try {
      const r = await fetch(dash.url.href);
      expect(r.status).toBe(200);
      expect(await r.text()).toContain("per-minute history unavailable");
    } finally {
      dash.stop(true);
    }
  });
});

describe("who records it", () => {
  test("a worker's heartbeat calls the recorder once per minute of its clock, not once per beat (idle traffic, #17)", async () => {
    let nowMs = Date.UTC(2026, 11, 2, 12, 0, 5);
    const w = startWorker(registryWith({}), { queues: ["h"], namespace: ns, heartbeatInterval: 0.1, promote: false }, undefined, { now: () => new Date(nowMs) });
    try {
      await waitFor(async () => (await c.send("HLEN", [keys.history])) === 1, 5000, "the first beat's record");
      // Gone from Redis, the same minute on our clock: later beats (20 in 2 s) do not call the recorder again.
      await c.send("DEL", [keys.history]);
      const beats = async () => Math.max(...Object.values((await c.send("HGETALL", [keys.beats])) as Record<string, string>).map((v) => Number(v.split("|")[0])));
      const first = await beats();
      await waitFor(async () => (await beats()) > first + 1500, 5000, "1.5 s of beats");
      expect(await c.send("EXISTS", [keys.history])).toBe(0);
      // Our clock's next minute: the next beat records (Redis's minute, which nobody recorded since the DEL).
      nowMs += 60_000;
      await waitFor(async () => (await c.send("HLEN", [keys.history])) === 1, 5000, "the next minute's record");
      // 100 old minutes: kept until a tenth minute of our clock (12:01 -> 12:09), then dropped (12:10).
      const [t] = (await c.send("TIME", [])) as [string];
      const redisMin = Math.floor(Number(t) / 60);
      await c.send("HSET", [keys.history, ...Array.from({ length: 100 }, (_, i) => [String(redisMin - 100 - i), "1|0"]).flat()]);
      for (let m = 2; m <= 9; m++) {
        nowMs += 60_000;
        await c.send("HDEL", [keys.history, String(redisMin), String(redisMin + 1)]);
        await waitFor(async () => (await c.send("HLEN", [keys.history])) >= 101, 5000, `12:0${m}'s record`);
        expect(await c.send("HLEN", [keys.history])).toBeLessThanOrEqual(102);
      }
      nowMs += 60_000;
      await waitFor(async () => (await c.send("HLEN", [keys.history])) <= 70, 5000, "12:10's look at the bound");
    } finally {
      w.launcher.stop();
      await w.done;
    }
  });

  test("a real worker's heartbeat records the minute; a dashboard started afterwards charts what is in Redis", async () => {
    await c.send("SET", [keys.processed, "5"]);
    const w = spawnWorker(["--queues=h", `--namespace=${ns}`, `--uri=${REDIS_URL}`]);
    try {
      await waitFor(async () => (await c.send("HLEN", [keys.history])) === 1, 15_000, "the worker's heartbeat to record the minute");
    } finally {
      w.signal("SIGTERM");
      await w.exited;
    }
    const [t] = (await c.send("TIME", [])) as [string];
    const nowMin = Math.floor(Number(t) / 60);
    await c.send("HSET", [keys.history, String(nowMin - 3), "1000|10", String(nowMin - 2), "1600|13"]);
    expect((await readHistory(c, keys, Number(t) * 1000)).reduce((a, p) => a + p.processed, 0)).toBeGreaterThanOrEqual(600);
    const dash = startDashboard({ target: parseUri(REDIS_URL, { tlsCert: "", insecureTls: false }), keys, commandTimeoutMs: 5000, host: "127.0.0.1", port: 0, readOnly: true, deadAfter: 300 });
    try {
      const html = await (await fetch(dash.url.href)).text();
      expect(html).toMatch(/Processed per minute: \d+ in the last hour/);
      expect(html).toContain("Failed per minute: 3 in the last hour");
    } finally {
      dash.stop(true);
    }
  }, 30_000);
});

// The dashboard's Delayed and Schedules pages (#18), over HTTP against real Redis: the actions share
// delayed-admin.ts with `bunworker delayed` (enqueue now makes the job due and the lock holder moves it into its
// queue exactly as after the subcommand); removal per job at one second and per second; every POST needs the
// CSRF token and the dashboard's origin and is refused read-only; markup shows as text; schedules from Redis,
// from a --schedule file and from last runs alone.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RedisClient, Server } from "bun";
import { COUNT_CAP } from "../src/delayed-admin";
import { delayedItem, enqueueAtWith } from "../src/delayed";
import { promoteScript } from "../src/delayed-scripts";
import type { Keys } from "../src/keys";
import { parseSchedule, type Schedule } from "../src/schedule";
import { parseUri } from "../src/uri";
import { startDashboard } from "../src/web/server";
import { isolateKeys, REDIS_URL, waitFor } from "./helpers/redis";
import { MAIN_WORKER, spawnWorker } from "./helpers/worker-process";

let c: RedisClient;
let keys: Keys;
let ns: string;
isolateKeys((t) => ({ c, ns, keys } = t));
let dash: Server<undefined> | undefined;
afterEach(() => dash?.stop(true));

const start = (o: { readOnly?: boolean; schedules?: Schedule[] } = {}) => {
  dash = startDashboard({ target: parseUri(REDIS_URL, { tlsCert: "", insecureTls: false }), keys, commandTimeoutMs: 5000, host: "127.0.0.1", port: 0, readOnly: o.readOnly ?? false, deadAfter: 300, schedules: o.schedules });
  return dash.url.href.replace(/\/$/, "");
};
const get = async (url: string) => (await fetch(url)).text();
const csrfOf = async (url: string) => /<meta name="csrf" content="([^"]+)">/.exec(await get(url))?.[1] ?? "";
const post = (url: string, fields: Record<string, string>, headers: Record<string, string>) => fetch(url, { method: "POST", body: new URLSearchParams(fields), headers, redirect: "manual" });
const XSS = "<img src=x onerror=alert(1)>";
const later = () => Math.floor(Date.now() / 1000) + 3600;
const promote = () => promoteScript(c, keys, { lockValue: "h:1:x", takeOver: "", lockTtlMs: 5000, batch: 100, failedAt: "x", worker: "w", nowMs: Date.now(), skip: [] });
const job = (cls: string, args: unknown[] = [], queue = "q") => ({ queue, payload: { class: cls, args } });

async function cli(...argv: string[]): Promise<number> {
  const p = Bun.spawn([process.execPath, MAIN_WORKER, "delayed", ...argv, `--uri=${REDIS_URL}`, `--namespace=${ns}`], { stdout: "ignore", stderr: "ignore" });
  return p.exited;
}

describe("Delayed page", () => {
  test("seconds oldest first, each with its jobs; markup in a class or an arg shows escaped", async () => {
    const base = start();
    const ts = later();
    await enqueueAtWith(c, keys, (ts + 60) * 1000, job("Later", [2]));
    await enqueueAtWith(c, keys, ts * 1000, job("First", [1, XSS]));
    await c.send("RPUSH", [keys.delayed(String(ts)), JSON.stringify({ class: XSS, args: [], queue: "q" })]);
    const html = await get(`${base}/delayed`);
    expect(html).toContain("<h1>Delayed <small>3 jobs at 2 seconds</small></h1>");
    expect(html.indexOf(">First<")).toBeLessThan(html.indexOf(">Later<"));
    expect(html).toContain(`<td class="cls">${XSS.replace(/</g, "&lt;").replace(/>/g, "&gt;")}</td>`);
    expect(html).toContain("[1,&quot;&lt;img src=x onerror=alert(1)&gt;&quot;]");
    expect(html).not.toContain("<img");
    expect(html).toContain("No process holds resque-scheduler's master lock");
    expect(html).toContain(`data-confirm="Remove 2 jobs due at ${new Date(ts * 1000).toISOString().replace(".000Z", "Z")}?"`);
    // One second on its own page, paged.
    const one = await get(`${base}/delayed/${ts}`);
    expect(one).toContain(">First<");
    expect(one).not.toContain(">Later<");
  });

  test("enqueue now for one job: due at once, and the lock holder moves it into its queue exactly as after the subcommand", async () => {
    const base = start();
    const ts = later();
    await enqueueAtWith(c, keys, ts * 1000, job("ViaPage", [1]));
    await enqueueAtWith(c, keys, ts * 1000, job("Stays", [2]));
    await enqueueAtWith(c, keys, (ts + 5) * 1000, job("ViaCli", [3]));
    const csrf = await csrfOf(`${base}/delayed`);
    const item = delayedItem(job("ViaPage", [1]));
    const r = await post(`${base}/delayed/enqueue-now`, { _csrf: csrf, ts: String(ts), item, page: "1" }, { Origin: base });
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toStartWith("/delayed?page=1&msg=Made+1+job+due+now");
    expect(await cli("enqueue-now", String(ts + 5))).toBe(0);
    // Neither moved anything itself: both wait for the lock holder.
    expect(await c.send("EXISTS", [keys.queue("q")])).toBe(0);
    expect(await c.lrange(keys.delayed(String(ts)), 0, -1)).toEqual([delayedItem(job("Stays", [2]))]);
    expect(await c.smembers(keys.timestamps(item))).toHaveLength(1);
    let moved = 0;
    for (let i = 0; i < 5 && moved < 2; i++) moved += (await promote()).moved;
    expect(moved).toBe(2);
    expect((await c.lrange(keys.queue("q"), 0, -1)).sort()).toEqual(['{"class":"ViaCli","args":[3]}', '{"class":"ViaPage","args":[1]}']);
    expect(await c.send("EXISTS", [keys.timestamps(item)])).toBe(0);
    expect(await c.send("ZRANGE", [keys.delayedSchedule, "0", "-1"])).toEqual([String(ts)]);
    // Gone since: said so, nothing changes.
    const again = await post(`${base}/delayed/enqueue-now`, { _csrf: csrf, ts: String(ts), item }, { Origin: base });
    expect(decodeURIComponent(again.headers.get("location") ?? "").replace(/\+/g, " ")).toContain("That job was no longer scheduled at that second.");
  });

  test("enqueue now for a whole second gives it score 0, as the subcommand does", async () => {
    const base = start();
    const ts = later();
    await enqueueAtWith(c, keys, ts * 1000, job("A"));
    await enqueueAtWith(c, keys, (ts + 1) * 1000, job("B"));
    const csrf = await csrfOf(`${base}/delayed`);
    expect((await post(`${base}/delayed/enqueue-now`, { _csrf: csrf, ts: String(ts) }, { Origin: base })).status).toBe(303);
    expect(await cli("enqueue-now", String(ts + 1))).toBe(0);
    expect(await c.send("ZRANGE", [keys.delayedSchedule, "0", "-1", "WITHSCORES"])).toEqual([[String(ts), 0], [String(ts + 1), 0]]);
    expect((await get(`${base}/delayed`)).match(/made due now/g)).toHaveLength(2);
  });

  test("remove one job at one second leaves its copy at another second; remove a second of 2,500 jobs clears it all", async () => {
    const base = start();
    const ts = later();
    const twice = job("Twice", [1]);
    await enqueueAtWith(c, keys, ts * 1000, twice);
    await enqueueAtWith(c, keys, (ts + 9) * 1000, twice);
    const item = delayedItem(twice);
    const csrf = await csrfOf(`${base}/delayed`);
    const r = await post(`${base}/delayed/remove`, { _csrf: csrf, ts: String(ts), item, from: "second" }, { Origin: base });
    expect(r.headers.get("location")).toStartWith(`/delayed/${ts}?msg=Removed+1+job.`);
    expect(await c.smembers(keys.timestamps(item))).toEqual([`delayed:${ts + 9}`]);
    expect(await c.send("ZRANGE", [keys.delayedSchedule, "0", "-1"])).toEqual([String(ts + 9)]);
    expect(await c.send("EXISTS", [keys.delayed(String(ts))])).toBe(0);

    const big = ts + 100;
    for (let i = 0; i < 2500; i += 500) await Promise.all(Array.from({ length: 500 }, (_, j) => enqueueAtWith(c, keys, big * 1000, job("Many", [i + j]))));
    const r2 = await post(`${base}/delayed/remove`, { _csrf: csrf, ts: String(big) }, { Origin: base });
    expect(r2.headers.get("location")).toContain("msg=Removed+2500+jobs.");
    expect(await c.send("EXISTS", [keys.delayed(String(big))])).toBe(0);
    expect(await c.send("EXISTS", [keys.timestamps(delayedItem(job("Many", [1234])))])).toBe(0);
    expect(await c.send("ZRANGE", [keys.delayedSchedule, "0", "-1"])).toEqual([String(ts + 9)]);
  });

  test("POSTs without the CSRF token, from another origin, or read-only are refused and change nothing", async () => {
    let base = start();
    const ts = later();
    await enqueueAtWith(c, keys, ts * 1000, job("Kept"));
    const item = delayedItem(job("Kept"));
    const csrf = await csrfOf(`${base}/delayed`);
    for (const path of ["/delayed/remove", "/delayed/enqueue-now"]) {
      expect((await post(base + path, { ts: String(ts), item }, { Origin: base })).status).toBe(403);
      expect((await post(base + path, { _csrf: csrf, ts: String(ts), item }, { Origin: "http://evil.example" })).status).toBe(403);
      expect((await post(base + path, { _csrf: csrf, ts: String(ts), item }, { "Sec-Fetch-Site": "cross-site" })).status).toBe(403);
    }
    dash?.stop(true);
    base = start({ readOnly: true });
    const html = await get(`${base}/delayed`);
    expect(html).toContain(">Kept<");
    expect(html).not.toContain('<form method="post"');
    const roCsrf = await csrfOf(`${base}/delayed`);
    expect((await post(`${base}/delayed/remove`, { _csrf: roCsrf, ts: String(ts), item }, { Origin: base })).status).toBe(403);
    expect(await c.lrange(keys.delayed(String(ts)), 0, -1)).toEqual([item]);
    expect(await c.send("ZSCORE", [keys.delayedSchedule, String(ts)])).toBe(ts);
  });

  test(`above ${COUNT_CAP} scheduled seconds the overview shows seconds, and a page still reads only its own`, async () => {
    const base = start();
    const ts = later();
    // 100,000 delayed items over 20,000 seconds, written in one script.
    await c.send("EVAL", [`for s = 0, 19999 do local t = tostring(${ts} + s); for j = 1, 5 do redis.call('RPUSH', ARGV[1] .. 'delayed:' .. t, '{"class":"Bulk","args":[' .. j .. '],"queue":"q"}') end; redis.call('ZADD', KEYS[1], t, t) end`, "1", keys.delayedSchedule, ns]);
    const over = await get(`${base}/`);
    expect(over).toContain(`delayed seconds</a><b>20000</b>`);
    const html = await get(`${base}/delayed?page=3`);
    expect(html).toContain("<h1>Delayed <small>20000 seconds</small></h1>");
    expect(html).toContain(`second ${ts + 40} · 5 jobs`);
    expect(html).not.toContain(`second ${ts + 60} ·`);
    expect(html.match(/<tr class="job">/g)).toHaveLength(100);
  }, 30_000);
});

describe("overview", () => {
  test("shows the delayed count and who holds the master lock", async () => {
    const base = start();
    await enqueueAtWith(c, keys, later() * 1000, job("A"));
    await enqueueAtWith(c, keys, later() * 1000, job("B"));
    await c.send("SET", [keys.schedulerLock, `${XSS}:42`]);
    const html = await get(`${base}/`);
    expect(html).toContain(`delayed</a><b>2</b>`);
    expect(html).toContain(`<code class="holder">&lt;img src=x onerror=alert(1)&gt;:42</code>`);
  });
});

describe("Schedules page", () => {
  test("Ruby's persisted schedules, configured ones, last runs, next runs and the lock holder; all escaped", async () => {
    const configured = [parseSchedule("nightly", { cron: "0 3 * * *", class: "Nightly", queue: "low", args: [1], description: XSS })];
    const base = start({ schedules: configured });
    // The reference's observed bytes (section 3).
    await c.send("HSET", [keys.persistentSchedules, "probe_every", '{"class":"ProbeJob","every":"1s","args":["rec"],"queue":"recq"}', "probe_cron_tz", '{"class":"ProbeJob","cron":"0 5 * * * America/New_York","args":{"h":1},"description":"d"}', "broken", "{not json"]);
    await c.send("HSET", [keys.lastEnqueuedAt, "probe_every", "2026-12-01 03:19:28 +0000", "ruby_static", "2026-12-01 03:00:00 +0000"]);
    await c.send("HSET", [keys.scheduleTicks, "nightly", String(Date.UTC(2026, 11, 1, 3))]);
    await c.send("SET", [keys.schedulerLock, "rubyhost:4242", "PX", "60000"]);
    const html = await get(`${base}/schedules`);
    expect(html).toContain("<h1>Schedules <small>5</small></h1>");
    expect(html).toContain('<code class="holder">rubyhost:4242</code>');
    const row = (name: string) => new RegExp(`<tr><td class="name">${name}</td>(.*?)</tr>`).exec(html)?.[1] ?? "";
    expect(row("nightly")).toContain("<td>cron 0 3 * * *</td><td class=\"cls\">Nightly</td><td>low</td>");
    expect(row("nightly")).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(row("nightly")).toContain("tick 2026-12-01T03:00:00Z");
    expect(row("nightly")).toMatch(/<td>\d{4}-\d\d-\d\dT03:00:00Z<\/td><td>configured here<\/td>/);
    expect(row("probe_every")).toContain("<td>every 1s</td><td class=\"cls\">ProbeJob</td><td>recq</td>");
    expect(row("probe_every")).toContain("2026-12-01 03:19:28 +0000");
    expect(row("probe_every")).toContain("persisted (Redis)");
    // Its queue is missing: the scheduler skips it, and the page says why.
    expect(row("probe_cron_tz")).toContain("queue is required");
    expect(row("broken")).toContain("skipped by the scheduler");
    expect(row("ruby_static")).toContain("defined in another process");
    expect(html).not.toContain("<img");
  });

  test("`bunworker web --schedule=FILE` shows the file's schedules", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunworker-sched-"));
    const file = join(dir, "schedule.yml");
    writeFileSync(file, "cleanup:\n  every: 15m\n  class: Cleanup\n  queue: maint\n  description: sweeps\n");
    const p = Bun.spawn([process.execPath, MAIN_WORKER, "web", "--port=0", `--schedule=${file}`, `--uri=${REDIS_URL}`, `--namespace=${ns}`], { stdout: "ignore", stderr: "pipe" });
    try {
      const reader = p.stderr.getReader();
      let err = "";
      const url = await waitFor(async () => {
        const { value } = await reader.read();
        err += new TextDecoder().decode(value ?? new Uint8Array());
        return /dashboard on (http:\/\/\S+?)\/? /.exec(err)?.[1];
      }, 15_000, "the dashboard to start");
      const html = await get(`${url}/schedules`);
      expect(html).toMatch(/<td class="name">cleanup<\/td><td>every 15m<\/td><td class="cls">Cleanup<\/td><td>maint<\/td>.*sweeps.*configured here/);
    } finally {
      p.kill("SIGTERM");
      await p.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);

  test("a worker's --web shows its own TypeScript schedules in full; a standalone dashboard knows only their last run", async () => {
    const w = spawnWorker(["--queues=sched", "--web=0", "--no-promote", `--namespace=${ns}`, `--uri=${REDIS_URL}`], { script: new URL("./fixtures/schedule-worker.ts", import.meta.url).pathname });
    try {
      await w.waitForOutput(/dashboard on http:\/\/\S+/);
      const url = (/dashboard on (http:\/\/\S+?)\/?(\s|$)/.exec(w.output()) as RegExpExecArray)[1] as string;
      const html = await get(`${url}/schedules`);
      expect(html).toMatch(/<td class="name">ts_hourly<\/td><td>every 1h<\/td><td class="cls">Hourly<\/td><td>sched<\/td><td class="args"><code>\[\{&quot;&lt;b&gt;&quot;:1\}\]<\/code><\/td><td>defined in TypeScript<\/td><td>never<\/td><td>\d{4}-\d\d-\d\dT\d\d:00:00Z<\/td><td>configured here<\/td>/);
    } finally {
      w.signal("SIGTERM");
      await w.exited;
    }
    await c.send("HSET", [keys.lastEnqueuedAt, "ts_hourly", "2026-12-02 16:00:00 +0000"]);
    const base = start();
    expect(await get(`${base}/schedules`)).toMatch(/<td class="name">ts_hourly<\/td><td><\/td><td class="cls"><\/td>.*2026-12-02 16:00:00 \+0000.*unknown here.*defined elsewhere/);
  }, 30_000);
});

// The dashboard's Retries page (#18), over HTTP against real Redis: a counter and failure-<counter> written by a
// real worker's retry ack (and one with Ruby's bytes) show with class, attempts, TTL and the escaped failure;
// "Remove counter" deletes both keys in one DEL and nothing else; every POST needs the CSRF token and the
// dashboard's origin and is refused read-only; the SCAN is bounded and continues from its cursor.
import { afterEach, describe, expect, test } from "bun:test";
import type { RedisClient, Server } from "bun";
import type { Keys } from "../src/keys";
import { Registry } from "../src/registry";
import { parseUri } from "../src/uri";
import { startDashboard } from "../src/web/server";
import { startWorker } from "./helpers/in-process";
import { isolateKeys, REDIS_URL, waitFor } from "./helpers/redis";

let c: RedisClient;
let keys: Keys;
let ns: string;
isolateKeys((t) => ({ c, ns, keys } = t));
let dash: Server<undefined> | undefined;
afterEach(() => dash?.stop(true));

const start = (o: { readOnly?: boolean } = {}) => {
  dash = startDashboard({ target: parseUri(REDIS_URL, { tlsCert: "", insecureTls: false }), keys, commandTimeoutMs: 5000, host: "127.0.0.1", port: 0, readOnly: o.readOnly ?? false, deadAfter: 300 });
  return dash.url.href.replace(/\/$/, "");
};
const get = async (url: string) => (await fetch(url)).text();
const csrfOf = async (url: string) => /<meta name="csrf" content="([^"]+)">/.exec(await get(url))?.[1] ?? "";
const post = (url: string, fields: Record<string, string>, headers: Record<string, string>) => fetch(url, { method: "POST", body: new URLSearchParams(fields), headers, redirect: "manual" });
const XSS = "<img src=x onerror=alert(1)>";
const ESCAPED = "&lt;img src=x onerror=alert(1)&gt;";
// The reference's observed Ruby key for RetryJob with args [42,"x",[1,[2]],{"h"=>1},nil] (section 5.1).
const RUBY_ARGS = '[42,"x",[1,[2]],{"h":1},null]';
const RUBY_KEY = "resque-retry:RetryJob:0e530519eee6eb2a16c6c1999c735708dd963c0f";
const row = (html: string, cls: string) => new RegExp(`<tr><td class="cls">${cls}</td>(.*?)</tr>`, "s").exec(html)?.[1] ?? "";

/** One failed attempt of RetryJob through a real worker's retry ack: counter 0, failure-<counter> for 2 x 60 s. */
async function failOnce(): Promise<void> {
  const registry = new Registry();
  registry.register("RetryJob", () => {
    throw new TypeError(`bad ${XSS}\nsecond line`);
  }, { retry: { limit: 3, delays: [60] } });
  const w = startWorker(registry, { namespace: ns, queues: ["retryq"], concurrency: 1, interval: 0.5, promote: false });
  try {
    await c.send("RPUSH", [keys.queue("retryq"), `{"class":"RetryJob","args":${RUBY_ARGS}}`]);
    await waitFor(async () => (await c.get(ns + RUBY_KEY)) === "0", 5000, "the counter after the first attempt");
  } finally {
    w.launcher.stop();
    await w.done;
  }
}

describe("Retries page", () => {
  test("a worker's retry and a Ruby counter show with class, attempts, TTL and the escaped failure", async () => {
    await failOnce();
    // Ruby's bytes for a class without args (no digest), after its 4th failed attempt, with an expiry and no kept failure.
    await c.send("SET", [`${ns}resque-retry:Billing::Charge`, "3", "EX", "3600"]);
    const base = start();
    const html = await get(`${base}/retries`);
    expect(html).toContain("<h1>Retries <small>2</small></h1>");
    const job = row(html, "RetryJob");
    expect(job).toContain("<code>0e530519eee6…</code>");
    expect(job).toContain("<td>1 failed · next is attempt 2</td><td>none</td>");
    expect(job).toContain('<b class="exc">TypeError</b>');
    expect(job).toMatch(/<small>\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d<\/small><details><summary>bad &lt;img src=x onerror=alert\(1\)&gt;<\/summary><pre>bad &lt;img/);
    expect(job).toContain(`data-confirm="Remove the attempt counter of this RetryJob job`);
    const ruby = row(html, "Billing::Charge");
    expect(ruby).toContain("<code>(no args)</code>");
    expect(ruby).toMatch(/<td>4 failed · next is attempt 5<\/td><td>(59m|60m)<\/td>/);
    expect(ruby).toContain("none kept");
    expect(html).toContain(ESCAPED);
    expect(html).not.toContain("<img");
    // The retry itself is untouched by the page: it waits as a delayed item.
    expect(await c.send("ZCARD", [keys.delayedSchedule])).toBe(1);
  }, 20_000);

  test("a counter that is not an integer is shown with what it holds, not hidden", async () => {
    await c.send("SET", [`${ns}resque-retry:Odd:${"a".repeat(40)}`, XSS]);
    const html = await get(`${start()}/retries`);
    expect(row(html, "Odd")).toContain(`not an integer: &quot;${ESCAPED}&quot;`);
  });

  test("Remove counter deletes the counter and its failure in one DEL, and nothing else", async () => {
    await failOnce();
    await c.send("SET", [`${ns}resque-retry:Other`, "0"]);
    const base = start();
    const csrf = await csrfOf(`${base}/retries`);
    const r = await post(`${base}/retries/remove`, { _csrf: csrf, key: RUBY_KEY, cursor: "0" }, { Origin: base });
    expect(r.status).toBe(303);
    expect(decodeURIComponent(r.headers.get("location") ?? "").replace(/\+/g, " ")).toBe(`/retries?msg=Removed the counter ${RUBY_KEY} and its failure.`);
    expect(await c.send("EXISTS", [ns + RUBY_KEY, `${ns}failure-${RUBY_KEY}`])).toBe(0);
    expect(await c.get(`${ns}resque-retry:Other`)).toBe("0");
    expect(await c.send("ZCARD", [keys.delayedSchedule])).toBe(1);
    const again = await post(`${base}/retries/remove`, { _csrf: csrf, key: RUBY_KEY }, { Origin: base });
    expect(decodeURIComponent(again.headers.get("location") ?? "").replace(/\+/g, " ")).toContain("That counter was already gone.");
    // Only counter keys can be named: anything else is refused and kept.
    await c.send("RPUSH", [keys.queue("q"), "x"]);
    const bad = await post(`${base}/retries/remove`, { _csrf: csrf, key: "queue:q" }, { Origin: base });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toBe("refused: not a resque-retry counter key: queue:q");
    expect(await c.llen(keys.queue("q"))).toBe(1);
  }, 20_000);

  test("POSTs without the CSRF token, from another origin, or read-only are refused and change nothing", async () => {
    await c.send("SET", [ns + RUBY_KEY, "1"]);
    await c.send("SET", [`${ns}failure-${RUBY_KEY}`, '{"exception":"E","error":"x","backtrace":[]}']);
    let base = start();
    const csrf = await csrfOf(`${base}/retries`);
    expect((await post(`${base}/retries/remove`, { key: RUBY_KEY }, { Origin: base })).status).toBe(403);
    expect((await post(`${base}/retries/remove`, { _csrf: "stale", key: RUBY_KEY }, { Origin: base })).status).toBe(403);
    expect((await post(`${base}/retries/remove`, { _csrf: csrf, key: RUBY_KEY }, { Origin: "http://evil.example" })).status).toBe(403);
    expect((await post(`${base}/retries/remove`, { _csrf: csrf, key: RUBY_KEY }, { "Sec-Fetch-Site": "cross-site" })).status).toBe(403);
    dash?.stop(true);
    base = start({ readOnly: true });
    const html = await get(`${base}/retries`);
    expect(row(html, "RetryJob")).toContain("2 failed · next is attempt 3");
    expect(html).not.toContain('<form method="post"');
    const roCsrf = await csrfOf(`${base}/retries`);
    expect((await post(`${base}/retries/remove`, { _csrf: roCsrf, key: RUBY_KEY }, { Origin: base })).status).toBe(403);
    expect(await c.send("EXISTS", [ns + RUBY_KEY, `${ns}failure-${RUBY_KEY}`])).toBe(2);
  });

  test("the SCAN stops once 500 counters are found and the page continues from its cursor; together they list every counter", async () => {
    // 3,000 counters: the keyspace's table has >= 4,096 buckets, so SCAN ... COUNT 1000 cannot cover it in one call.
    await c.send("EVAL", ["for i = 1, 3000 do redis.call('SET', ARGV[1] .. 'resque-retry:Bulk' .. i, '0') end", "0", ns]);
    const base = start();
    const seen = new Set<string>();
    let url = `${base}/retries`;
    let pages = 0;
    for (; pages < 20; pages++) {
      const html = await get(url);
      const names = [...html.matchAll(/<td class="cls">(Bulk\d+)<\/td>/g)].map((m) => m[1] as string);
      for (const n of names) seen.add(n);
      const next = /<a href="(\/retries\?cursor=\d+)">continue →<\/a>/.exec(html)?.[1];
      if (!next) break;
      // Stopped at the first SCAN reply that reached 500: at most 500 + what one reply adds.
      expect(names.length).toBeGreaterThanOrEqual(500);
      expect(names.length).toBeLessThan(3000);
      expect(html).toMatch(/<h1>Retries <small>\d+\+<\/small><\/h1>/);
      url = base + next;
    }
    expect(pages).toBeGreaterThanOrEqual(1);
    expect(seen.size).toBe(3000);
  }, 30_000);
});

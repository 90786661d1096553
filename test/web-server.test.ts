// The dashboard's HTTP side (#18), without a browser: read-only mode, the origin and CSRF checks on every
// POST, queue clear and filtered bulk retry, escaping, and the refusal to listen openly without a token.
import { afterEach, describe, expect, test } from "bun:test";
import type { RedisClient, Server } from "bun";
import { SettingsError } from "../src/errors";
import { makeKeys, type Keys } from "../src/keys";
import { parseUri } from "../src/uri";
import { esc } from "../src/web/html";
import { checkExposure, startDashboard } from "../src/web/server";
import { isolate, REDIS_URL, thrown } from "./helpers/redis";

let c: RedisClient;
let keys: Keys;
isolate((cl, ns) => {
  c = cl;
  keys = makeKeys(ns);
});
let dash: Server<undefined> | undefined;
afterEach(() => dash?.stop(true));

const start = (readOnly = false) => {
  dash = startDashboard({ target: parseUri(REDIS_URL, { tlsCert: "", insecureTls: false }), keys, commandTimeoutMs: 5000, host: "127.0.0.1", port: 0, readOnly, deadAfter: 300 });
  return dash.url.href.replace(/\/$/, "");
};

async function csrfOf(url: string): Promise<string> {
  const html = await (await fetch(url)).text();
  return /<meta name="csrf" content="([^"]+)">/.exec(html)?.[1] ?? "";
}

const post = (url: string, fields: Record<string, string>, headers: Record<string, string>) => fetch(url, { method: "POST", body: new URLSearchParams(fields), headers, redirect: "manual" });

const entry = (cls: string, queue: string) => `{"failed_at":"2026/11/27 04:18:30 UTC","payload":{"class":"${cls}","args":[]},"exception":"E","error":"e","backtrace":[],"worker":"w","queue":"${queue}"}`;

describe("changes", () => {
  test("retry all matching a filter: only those entries, reported on the page", async () => {
    const base = start();
    await c.send("RPUSH", [keys.failed, entry("A", "q1"), entry("B", "q1"), entry("A", "q2")]);
    const csrf = await csrfOf(`${base}/failed`);
    const r = await post(`${base}/failed/retry-all`, { _csrf: csrf, class: "A" }, { Origin: base });
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toContain("msg=Retried+2+jobs.");
    expect(await c.send("LLEN", [keys.queue("q1")])).toBe(1);
    expect(await c.send("LLEN", [keys.queue("q2")])).toBe(1);
    const page = await (await fetch(base + (r.headers.get("location") as string))).text();
    expect(page).toContain("Retried 2 jobs.");
  });

  test("a queue is cleared by POST, with Sec-Fetch-Site same-origin when the browser sends no Origin", async () => {
    const base = start();
    await c.send("SADD", [keys.queues, "q"]);
    await c.send("RPUSH", [keys.queue("q"), "{}", "{}"]);
    const html = await (await fetch(`${base}/queues/q`)).text();
    expect(html).toContain('data-confirm="Delete all 2 jobs of queue q?"');
    const csrf = await csrfOf(`${base}/queues/q`);
    expect((await post(`${base}/queues/q/clear`, { _csrf: csrf }, { "Sec-Fetch-Site": "cross-site" })).status).toBe(403);
    expect((await post(`${base}/queues/q/clear`, { _csrf: csrf }, {})).status).toBe(403);
    expect(await c.send("LLEN", [keys.queue("q")])).toBe(2);
    expect((await post(`${base}/queues/q/clear`, { _csrf: csrf }, { "Sec-Fetch-Site": "same-origin" })).status).toBe(303);
    expect(await c.send("EXISTS", [keys.queue("q")])).toBe(0);
  });

  test("a wrong CSRF token and another origin are refused; nothing changes", async () => {
    const base = start();
    await c.send("RPUSH", [keys.failed, entry("A", "q1")]);
    const csrf = await csrfOf(`${base}/failed`);
    expect((await post(`${base}/failed/remove-all`, { _csrf: "guess" }, { Origin: base })).status).toBe(403);
    expect((await post(`${base}/failed/remove-all`, { _csrf: csrf }, { Origin: "http://evil.example" })).status).toBe(403);
    expect((await post(`${base}/failed/remove-all`, { _csrf: csrf }, { Origin: "null" })).status).toBe(403);
    expect(await c.send("LLEN", [keys.failed])).toBe(1);
  });
});

describe("read-only", () => {
  test("no buttons, and every POST refused even with a valid token and origin", async () => {
    const base = start(true);
    await c.send("RPUSH", [keys.failed, entry("A", "q1")]);
    const html = await (await fetch(`${base}/failed`)).text();
    expect(html).toContain("read-only");
    expect(html).not.toContain("<form method=\"post\"");
    const csrf = await csrfOf(`${base}/failed`);
    const r = await post(`${base}/failed/remove-all`, { _csrf: csrf }, { Origin: base });
    expect(r.status).toBe(403);
    expect(await r.text()).toContain("read-only");
    expect(await c.send("LLEN", [keys.failed])).toBe(1);
  });
});

describe("safety", () => {
  test("esc() leaves no markup", () => {
    expect(esc(`<img src=x onerror="a('b')">&`)).toBe("&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;");
  });

  test("only loopback without a token", () => {
    expect(thrown(() => checkExposure("0.0.0.0", undefined))).toBeInstanceOf(SettingsError);
    expect(thrown(() => checkExposure("10.0.0.5", ""))).toBeInstanceOf(SettingsError);
    checkExposure("0.0.0.0", "t");
    checkExposure("127.0.0.1", undefined);
    checkExposure("::1", undefined);
  });

  test("pages carry a CSP without inline script", async () => {
    const base = start();
    const r = await fetch(`${base}/`);
    expect(r.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(r.headers.get("x-frame-options")).toBe("DENY");
  });
});

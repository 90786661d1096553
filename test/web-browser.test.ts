// The dashboard in a real headless Chromium (#18), driven by playwright-core: a job that failed in a real
// worker appears on the failed page, is retried through the page (with its confirmation) and then runs in a
// real worker process; markup in a job's class and message shows as text and runs nothing; POSTs without the
// CSRF token, from another origin or without the dashboard's token are refused. Screenshots go to
// test/.screenshots/ (not committed).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RedisClient, Server } from "bun";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { enqueueAtWith } from "../src/delayed";
import { makeKeys } from "../src/keys";
import { parseUri } from "../src/uri";
import { startDashboard } from "../src/web/server";
import { client, dropNamespace, freshNamespace, REDIS_URL, waitFor } from "./helpers/redis";
import { spawnWorker, TEST_WORKER } from "./helpers/worker-process";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = new URL("./.screenshots/", import.meta.url).pathname;
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const XSS = "<img src=x onerror=window.__xss=1>";

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === "true") {
  test("chromium is installed (CI)", () => {
    throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium package`);
  });
}

describe.skipIf(!haveChromium)("dashboard in a real browser", () => {
  const ns = freshNamespace();
  const keys = makeKeys(ns);
  let c: RedisClient;
  let dash: Server<undefined>;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  let base: string;

  beforeAll(async () => {
    c = client();
    mkdirSync(SHOTS, { recursive: true });
    // Two jobs fail for real: a worker with no "Record" and no XSS class registered fails them as unknown.
    await c.send("SADD", [keys.queues, "web"]);
    await c.send("RPUSH", [keys.queue("web"), '{"class":"Record","args":["ran-after-retry"]}', JSON.stringify({ class: XSS, args: [XSS] })]);
    const bare = spawnWorker(["--queues=web", "--exit-on-complete", `--namespace=${ns}`, `--uri=${REDIS_URL}`], { script: new URL("./fixtures/bare-worker.ts", import.meta.url).pathname });
    expect(await bare.exited).toBe(0);
    expect(await c.send("LLEN", [keys.failed])).toBe(2);
    dash = startDashboard({ target: parseUri(REDIS_URL, { tlsCert: "", insecureTls: false }), keys, commandTimeoutMs: 5000, host: "127.0.0.1", port: 0, readOnly: false, deadAfter: 300 });
    base = dash.url.href.replace(/\/$/, "");
    profile = mkdtempSync(join(tmpdir(), "bunworker-chromium-"));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
    page = await context.newPage();
    page.on("dialog", (d) => void d.accept());
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    dash?.stop(true);
    if (profile) rmSync(profile, { recursive: true, force: true });
    await dropNamespace(c, ns);
    c.close();
  });

  test("overview, queues and workers pages render", async () => {
    await page.goto(`${base}/`);
    await page.getByText("Processed per minute").waitFor();
    await page.screenshot({ path: `${SHOTS}overview.png` });
    await page.goto(`${base}/queues`);
    await page.getByRole("heading", { name: /Queues/ }).waitFor();
    await page.goto(`${base}/workers`);
    await page.getByRole("heading", { name: /Workers/ }).waitFor();
  });

  test("markup in a job's class and message shows as text and runs no script", async () => {
    await page.goto(`${base}/failed`);
    const cell = page.locator("td.cls", { hasText: "<img" });
    await cell.waitFor();
    expect(await cell.textContent()).toBe(XSS);
    expect(await page.locator("td.err summary", { hasText: XSS }).count()).toBe(1);
    expect(await page.locator("main img").count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await page.screenshot({ path: `${SHOTS}failed.png`, fullPage: true });
  });

  test("a failed job is retried through the page, confirmed, and runs in a real worker", async () => {
    const worker = spawnWorker(["--queues=web", `--namespace=${ns}`, `--uri=${REDIS_URL}`], { script: TEST_WORKER });
    try {
      await page.goto(`${base}/failed`);
      let confirmed = "";
      page.once("dialog", (d) => void (confirmed = d.message()));
      const row = page.locator("tr", { has: page.locator("td.cls", { hasText: /^Record$/ }) });
      await row.getByRole("button", { name: "Retry" }).click();
      await page.getByText("Retried 1 job.").waitFor();
      expect(await row.textContent()).toMatch(/retried \d{4}\/\d\d\/\d\d/);
      expect(confirmed).toBe("Retry this Record job?");
      await waitFor(async () => ((await c.send("LRANGE", [`${ns}test:ran`, "0", "-1"])) as string[]).includes('["ran-after-retry"]'), 15_000, "the retried job to run");
      const entry = (await c.send("LINDEX", [keys.failed, "0"])) as string;
      expect(entry).toMatch(/"retried_at":"\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d UTC"\}$/);
      await page.screenshot({ path: `${SHOTS}retried.png` });
    } finally {
      worker.signal("SIGTERM");
      await worker.exited;
    }
  }, 30_000);

  test("a delayed job is enqueued now through the Delayed page, confirmed, and runs in a real worker", async () => {
    const due = Date.now() + 3_600_000;
    await enqueueAtWith(c, keys, due, { queue: "web", payload: { class: "Record", args: ["ran-after-enqueue-now"] } });
    const worker = spawnWorker(["--queues=web", `--namespace=${ns}`, `--uri=${REDIS_URL}`], { script: TEST_WORKER });
    try {
      await page.goto(`${base}/delayed`);
      let confirmed = "";
      page.once("dialog", (d) => void (confirmed = d.message()));
      const row = page.locator("tr.job", { has: page.locator("td.cls", { hasText: /^Record$/ }) });
      await page.screenshot({ path: `${SHOTS}delayed.png`, fullPage: true });
      await row.getByRole("button", { name: "Enqueue now" }).click();
      await page.getByText("Made 1 job due now").waitFor();
      expect(confirmed).toBe("Enqueue this Record job now? The process holding the master lock moves it to queue web at its next look.");
      await waitFor(async () => ((await c.send("LRANGE", [`${ns}test:ran`, "0", "-1"])) as string[]).includes('["ran-after-enqueue-now"]'), 20_000, "the delayed job to run");
      expect(await c.send("EXISTS", [keys.delayed(String(Math.floor(due / 1000)))])).toBe(0);
    } finally {
      worker.signal("SIGTERM");
      await worker.exited;
    }
  }, 40_000);

  test("a declined confirmation changes nothing", async () => {
    await page.goto(`${base}/failed`);
    page.removeAllListeners("dialog");
    page.once("dialog", (d) => void d.dismiss());
    const before = await c.send("LRANGE", [keys.failed, "0", "-1"]);
    await page.locator("tr", { has: page.locator("td.cls", { hasText: "<img" }) }).getByRole("button", { name: "Remove" }).click();
    // click() returns once any navigation it started has committed: a submitted form would have by now.
    expect(page.url()).toBe(`${base}/failed`);
    expect(await c.send("LRANGE", [keys.failed, "0", "-1"])).toEqual(before);
    page.on("dialog", (d) => void d.accept());
  });

  test("POSTs without the CSRF token or from another origin are refused", async () => {
    await page.goto(`${base}/failed`);
    const noToken = await page.evaluate(async () => {
      const r = await fetch("/failed/remove-all", { method: "POST", body: new URLSearchParams({}) });
      return { status: r.status, text: await r.text() };
    });
    expect(noToken.status).toBe(403);
    expect(noToken.text).toContain("CSRF");
    // Another origin: a page on another port that submits a form to the dashboard, CSRF field and all.
    const csrf = await page.locator('meta[name="csrf"]').getAttribute("content");
    const evil = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => new Response(`<form id=f method=post action="${base}/failed/remove-all"><input name=_csrf value="${csrf}"></form><script>document.getElementById("f").submit()</script>`, { headers: { "Content-Type": "text/html" } }),
    });
    try {
      await page.goto(evil.url.href);
      await page.waitForURL(`${base}/failed/remove-all`);
      expect(await page.textContent("body")).toContain("refused: cross-origin request");
    } finally {
      evil.stop(true);
    }
    expect(await c.send("LLEN", [keys.failed])).toBe(2);
  });

  test("the page refreshes live, without a reload", async () => {
    await page.goto(`${base}/failed`);
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    await c.send("RPUSH", [keys.failed, '{"failed_at":"2026/11/27 04:18:30 UTC","payload":{"class":"ArrivedLive","args":[]},"exception":"RuntimeError","error":"late","backtrace":[],"worker":"vm:1:web","queue":"web"}']);
    await page.locator("td.cls", { hasText: "ArrivedLive" }).waitFor({ timeout: 10_000 });
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42);
    await c.send("RPOP", [keys.failed]);
  });

  test("with a token: pages and POSTs need it; ?token= sets the cookie once", async () => {
    const guarded = startDashboard({ target: parseUri(REDIS_URL, { tlsCert: "", insecureTls: false }), keys, commandTimeoutMs: 5000, host: "127.0.0.1", port: 0, readOnly: false, deadAfter: 300, token: "s3cret" });
    try {
      const url = guarded.url.href.replace(/\/$/, "");
      expect((await fetch(`${url}/failed`)).status).toBe(401);
      expect((await fetch(`${url}/failed/remove-all`, { method: "POST", headers: { Origin: url } })).status).toBe(401);
      await page.goto(`${url}/failed?token=s3cret`);
      expect(page.url()).toBe(`${url}/failed`);
      await page.locator("td.cls").first().waitFor();
    } finally {
      guarded.stop(true);
    }
  });
});

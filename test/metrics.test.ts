// Prometheus metrics (#18): a real worker process with --metrics-port and the dashboard's /metrics, scraped
// over HTTP and read by a Prometheus text-format parser (parse-prometheus-text-format).
import { describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import parse, { type PromFamily } from "parse-prometheus-text-format";
import { makeKeys } from "../src/keys";
import { Metrics } from "../src/metrics";
import { parseListen } from "../src/operator";
import { RedisConn } from "../src/redis";
import { parseUri } from "../src/uri";
import { startDashboard } from "../src/web/server";
import { freePort, freePortRun, isolate, REDIS_URL, waitFor } from "./helpers/redis";
import { MAIN_WORKER, spawnWorker } from "./helpers/worker-process";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

let lastText = "";

async function scrape(url: string): Promise<PromFamily[]> {
  const r = await fetch(url);
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toContain("text/plain");
  lastText = await r.text();
  return parse(lastText);
}

const family = (fs: PromFamily[], name: string): PromFamily => {
  const f = fs.find((x) => x.name === name);
  if (!f) throw new Error(`no metric ${name} in ${fs.map((x) => x.name).join(", ")}`);
  return f;
};
const sample = (fs: PromFamily[], name: string, labels: Record<string, string> = {}) =>
  family(fs, name).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));

describe("a worker's --metrics-port", () => {
  test("jobs processed and failed by class and queue, duration histogram by class, in flight, queue depth, workers, Redis RTT", async () => {
    const port = await freePort();
    const jobs = [...Array.from({ length: 5 }, () => '{"class":"Noop","args":[]}'), '{"class":"Fail","args":["boom"]}', '{"class":"Fail","args":["boom"]}'];
    await c.send("SADD", [`${ns}queues`, "m", "waiting"]);
    await c.send("RPUSH", [`${ns}queue:m`, ...jobs]);
    await c.send("RPUSH", [`${ns}queue:waiting`, '{"class":"Noop","args":[]}', '{"class":"Noop","args":[]}']);
    const w = spawnWorker(["--queues=m", `--namespace=${ns}`, `--uri=${REDIS_URL}`, `--metrics-port=${port}`]);
    try {
      await waitFor(async () => (await c.send("GET", [`${ns}stat:processed`])) === "7", 15_000, "7 jobs processed");
      const url = `http://127.0.0.1:${port}/metrics`;
      const fs = await waitFor(async () => {
        const got = await scrape(url);
        return Number(sample(got, "bunworker_jobs_processed_total", { class: "Noop", queue: "m" })?.value) === 5 ? got : null;
      }, 5000, "the last job's metrics");
      expect(sample(fs, "bunworker_jobs_processed_total", { class: "Fail", queue: "m" })?.value).toBe("2");
      expect(sample(fs, "bunworker_jobs_failed_total", { class: "Fail", queue: "m" })?.value).toBe("2");
      expect(sample(fs, "bunworker_jobs_failed_total", { class: "Noop" })).toBeUndefined();
      expect(family(fs, "bunworker_job_duration_seconds").type).toBe("HISTOGRAM");
      // The parser folds a labelled histogram's series into one set of buckets, so the count per class is read
      // from the text line itself.
      expect(lastText).toMatch(/^bunworker_job_duration_seconds_count\{class="Noop"\} 5$/m);
      expect(lastText).toMatch(/^bunworker_job_duration_seconds_count\{class="Fail"\} 2$/m);
      expect(lastText).toMatch(/^bunworker_job_duration_seconds_bucket\{le="\+Inf",class="Noop"\} 5$/m);
      expect(sample(fs, "bunworker_jobs_in_flight")?.value).toBe("0");
      expect(sample(fs, "bunworker_queue_depth", { queue: "waiting" })?.value).toBe("2");
      expect(Number(sample(fs, "bunworker_workers", { state: "idle" })?.value)).toBeGreaterThan(0);
      expect(Number(sample(fs, "bunworker_redis_roundtrip_seconds")?.value)).toBeGreaterThan(0);
      expect(sample(fs, "bunworker_failed_jobs")?.value).toBe("2");
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    } finally {
      w.signal("SIGTERM");
      await w.exited;
    }
  }, 30_000);

  test("bad values, and a port with no room for every process, are refused: one line, the usage line, status 2", async () => {
    for (const args of [["--metrics-port=abc"], ["--metrics-port=99999"], ["--metrics-port=65535", "--processes=2"], ["--web=x:y"]]) {
      const p = Bun.spawn([process.execPath, MAIN_WORKER, "--queues=m", ...args], { stdout: "pipe", stderr: "pipe" });
      const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
      expect(code).toBe(2);
      expect(err).toMatch(/^bunworker: --(metrics-port|web)[^\n]*\nusage: /);
    }
  });

  test("with --processes=2 each child serves its own jobs' metrics, on the port and the port + 1", async () => {
    const port = await freePortRun(2);
    await c.send("RPUSH", [`${ns}queue:p`, ...Array.from({ length: 40 }, () => '{"class":"Noop","args":[]}')]);
    const w = spawnWorker(["--queues=p", `--namespace=${ns}`, `--uri=${REDIS_URL}`, `--metrics-port=${port}`, "--processes=2"]);
    try {
      await waitFor(async () => (await c.send("GET", [`${ns}stat:processed`])) === "40", 20_000, "40 jobs processed");
      const count = async (p: number) => Number(sample(await scrape(`http://127.0.0.1:${p}/metrics`), "bunworker_jobs_processed_total", { class: "Noop" })?.value ?? 0);
      const total = await waitFor(async () => {
        const [a, b] = await Promise.all([count(port), count(port + 1)]);
        return a + b === 40 ? [a, b] : null;
      }, 10_000, "both children's metrics to add up to 40");
      expect(total).toHaveLength(2);
    } finally {
      w.signal("SIGTERM");
      await w.exited;
    }
  }, 40_000);

  test("--web on a worker serves the dashboard on 127.0.0.1", async () => {
    const port = await freePort();
    const w = spawnWorker(["--queues=m", `--namespace=${ns}`, `--uri=${REDIS_URL}`, `--web=${port}`]);
    try {
      await w.waitForOutput(/dashboard on http:\/\/127\.0\.0\.1:/);
      const r = await fetch(`http://127.0.0.1:${port}/workers`);
      expect(r.status).toBe(200);
      expect(await r.text()).toContain("Workers");
    } finally {
      w.signal("SIGTERM");
      await w.exited;
    }
  }, 30_000);
});

describe("the dashboard's /metrics", () => {
  test("fleet metrics, parsed; no per-job metrics (it runs no jobs)", async () => {
    const keys = makeKeys(ns);
    await c.send("SADD", [keys.queues, "a"]);
    await c.send("RPUSH", [keys.queue("a"), "{}", "{}", "{}"]);
    await c.send("SET", [keys.processed, "12"]);
    const target = parseUri(REDIS_URL, { tlsCert: "", insecureTls: false });
    const conn = new RedisConn(target, 5000, "test metrics");
    const m = new Metrics(conn, keys, { jobs: false });
    const dash = startDashboard({ target, keys, commandTimeoutMs: 5000, host: "127.0.0.1", port: 0, readOnly: true, deadAfter: 300, metrics: () => m.render() });
    try {
      const fs = await scrape(`${dash.url.href}metrics`);
      expect(sample(fs, "bunworker_queue_depth", { queue: "a" })?.value).toBe("3");
      expect(sample(fs, "resque_stat_processed")?.value).toBe("12");
      expect(fs.find((f) => f.name === "bunworker_jobs_processed_total")).toBeUndefined();
    } finally {
      dash.stop(true);
      conn.close();
    }
  });
});

test("parseListen: PORT is loopback, HOST:PORT as given", () => {
  expect(parseListen("--web", "8080")).toEqual({ host: "127.0.0.1", port: 8080 });
  expect(parseListen("--web", "0.0.0.0:8080")).toEqual({ host: "0.0.0.0", port: 8080 });
  expect(parseListen("--web", "[::]:8080")).toEqual({ host: "::", port: 8080 });
});

// Prometheus metrics (#18) through prom-client, on the dashboard's /metrics and on a worker's --metrics-port.
// Per job (worker only): processed and failed by class and queue, a duration histogram by class, jobs in
// flight: the runner makes one call per job outcome (JobObserver.finished), and none when metrics are off.
// At each scrape, from Redis: queue depths, workers busy and idle, the failed list, Resque's counters and the
// Redis round-trip time. No KEYS: queues and workers come from their sets.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { SettingsError } from "./errors";
import type { Keys } from "./keys";
import type { RedisConn } from "./redis";
import { mget, smembers } from "./resque-data";

/** What the runner calls when metrics are on. */
export interface JobObserver {
  /** Jobs started and not yet finished in this process (the runner adds one per job it starts). */
  inFlight: number;
  finished(className: string, queue: string, outcome: "ok" | "fail" | "bad", ms: number): void;
}

interface Children {
  processed: { inc(): void };
  failed: { inc(): void };
  duration: { observe(v: number): void };
}

const DURATION_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];

export class Metrics {
  readonly registry = new Registry();
  /** Set when this process runs jobs (a worker); the dashboard alone has none. */
  readonly observer: JobObserver | null;

  constructor(conn: RedisConn, keys: Keys, opts: { jobs: boolean }) {
    const registers = [this.registry];
    const fleet = async () => {
      const c = await conn.ready();
      const t0 = performance.now();
      await c.send("PING", []);
      const rtt = (performance.now() - t0) / 1000;
      const [queues, workers, failed, processed, failedCount] = await Promise.all([smembers(c, keys.queues), smembers(c, keys.workers), c.send("LLEN", [keys.failed]) as Promise<number>, c.send("GET", [keys.processed]) as Promise<string | null>, c.send("GET", [keys.failedCount]) as Promise<string | null>]);
      const [depths, states] = await Promise.all([Promise.all(queues.map((q) => c.send("LLEN", [keys.queue(q)]) as Promise<number>)), mget(c, workers.map((w) => keys.worker(w)))]);
      return { rtt, queues, depths, busy: states.filter((s) => s).length, idle: states.filter((s) => !s).length, failed, processed: Number(processed ?? 0), failedCount: Number(failedCount ?? 0) };
    };
    // One read of Redis per scrape, shared by every gauge below.
    let scrape: Promise<Awaited<ReturnType<typeof fleet>>> | null = null;
    const once = () => (scrape ??= fleet().finally(() => queueMicrotask(() => (scrape = null))));
    new Gauge({ name: "bunworker_redis_roundtrip_seconds", help: "Time of one PING to Redis at this scrape", registers, async collect() { this.set((await once()).rtt); } });
    new Gauge({
      name: "bunworker_queue_depth", help: "Jobs waiting in each queue of <ns>queues", labelNames: ["queue"], registers,
      async collect() {
        const s = await once();
        this.reset();
        s.queues.forEach((q, i) => this.set({ queue: q }, s.depths[i] ?? 0));
      },
    });
    new Gauge({
      name: "bunworker_workers", help: "Registered Resque workers of the whole fleet, by state", labelNames: ["state"], registers,
      async collect() {
        const s = await once();
        this.set({ state: "busy" }, s.busy);
        this.set({ state: "idle" }, s.idle);
      },
    });
    new Gauge({ name: "bunworker_failed_jobs", help: "Entries in Resque's failed list (LLEN failed)", registers, async collect() { this.set((await once()).failed); } });
    new Gauge({ name: "resque_stat_processed", help: "Resque's stat:processed, every job finished by any worker of the fleet", registers, async collect() { this.set((await once()).processed); } });
    new Gauge({ name: "resque_stat_failed", help: "Resque's stat:failed, every job failed by any worker of the fleet", registers, async collect() { this.set((await once()).failedCount); } });
    this.observer = opts.jobs ? this.jobMetrics() : null;
  }

  private jobMetrics(): JobObserver {
    const registers = [this.registry];
    const processed = new Counter({ name: "bunworker_jobs_processed_total", help: "Jobs this process finished (failed ones included, as Resque counts)", labelNames: ["class", "queue"], registers });
    const failed = new Counter({ name: "bunworker_jobs_failed_total", help: "Jobs this process failed", labelNames: ["class", "queue"], registers });
    const duration = new Histogram({ name: "bunworker_job_duration_seconds", help: "Run time of this process's jobs", labelNames: ["class"], buckets: DURATION_BUCKETS, registers });
    // prom-client hashes the labels on every inc(); a child per (class, queue), looked up once, does not.
    const children = new Map<string, Children>();
    const observer: JobObserver = {
      inFlight: 0,
      finished(className, queue, outcome, ms) {
        observer.inFlight--;
        const key = `${className}\u0000${queue}`;
        let ch = children.get(key);
        if (!ch) {
          ch = { processed: processed.labels(className, queue), failed: failed.labels(className, queue), duration: duration.labels(className) };
          children.set(key, ch);
        }
        ch.processed.inc();
        if (outcome !== "ok") ch.failed.inc();
        ch.duration.observe(ms / 1000);
      },
    };
    new Gauge({ name: "bunworker_jobs_in_flight", help: "Jobs running in this process now", registers, collect() { this.set(observer.inFlight); } });
    return observer;
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** "9394" -> 127.0.0.1:9394; "0.0.0.0:9394" or "[::]:9394" -> that address. Loopback unless told otherwise. */
export function parseListen(flag: string, v: string): { host: string; port: number } {
  const m = /^(?:\[?([^\]]*?)\]?:)?(\d{1,5})$/.exec(v.trim());
  const port = Number(m?.[2]);
  if (!m || port > 65535) throw new SettingsError(`${flag} must be PORT or HOST:PORT, got "${v}"`);
  return { host: m[1] || "127.0.0.1", port };
}

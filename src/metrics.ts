// Prometheus metrics (#18) through prom-client, on the dashboard's /metrics and on a worker's --metrics-port.
// Per job (worker only): processed and failed by class and queue, a duration histogram by class, jobs in
// flight: the runner makes one call per job outcome (JobObserver.finished), and none when metrics are off.
// At each scrape, from Redis: queue depths, workers busy and idle, the failed list, Resque's counters and the
// Redis round-trip time. No KEYS: queues and workers come from their sets.
import { Gauge, Registry } from "prom-client";
import type { Keys } from "./keys";
import type { RedisConn } from "./redis";
import { mget, smembers } from "./resque-data";

/** What the runner calls when metrics are on. */
export interface JobObserver {
  /** Jobs started and not yet finished in this process (the runner adds one per job it starts). */
  inFlight: number;
  finished(className: string, queue: string, outcome: "ok" | "fail" | "bad", ms: number): void;
}

/** One class's tallies: per queue processed and failed, and its duration histogram (non-cumulative buckets). */
interface ClassTally {
  queues: Map<string, { processed: number; failed: number }>;
  buckets: number[];
  sum: number;
  count: number;
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
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

  /**
   * The per-job metrics. prom-client hashes the label values on every inc() and observe() (a few µs a job at
   * drain speed), so jobs are tallied in plain maps and numbers, and handed to prom-client's registry as
   * metric objects that build their values at each scrape.
   */
  private jobMetrics(): JobObserver {
    const tallies = new Map<string, ClassTally>();
    const observer: JobObserver = {
      inFlight: 0,
      finished(className, queue, outcome, ms) {
        observer.inFlight--;
        let t = tallies.get(className);
        if (!t) {
          t = { queues: new Map(), buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
          tallies.set(className, t);
        }
        let q = t.queues.get(queue);
        if (!q) {
          q = { processed: 0, failed: 0 };
          t.queues.set(queue, q);
        }
        q.processed++;
        if (outcome !== "ok") q.failed++;
        const sec = ms / 1000;
        let b = 0;
        while (b < DURATION_BUCKETS.length && sec > (DURATION_BUCKETS[b] as number)) b++;
        (t.buckets[b] as number)++;
        t.sum += sec;
        t.count++;
      },
    };
    const custom = (name: string, help: string, type: "counter" | "histogram", values: () => MetricValue[]) =>
      this.registry.registerMetric({ name, help, type, aggregator: "sum", get: async () => ({ name, help, type, aggregator: "sum", values: values() }) } as unknown as Parameters<Registry["registerMetric"]>[0]);
    const perQueue = (pick: (q: { processed: number; failed: number }) => number) => () =>
      [...tallies].flatMap(([cls, t]) => [...t.queues].map(([queue, q]) => ({ value: pick(q), labels: { class: cls, queue } })));
    custom("bunworker_jobs_processed_total", "Jobs this process finished (failed ones included, as Resque counts)", "counter", perQueue((q) => q.processed));
    custom("bunworker_jobs_failed_total", "Jobs this process failed", "counter", () => perQueue((q) => q.failed)().filter((v) => v.value > 0));
    custom("bunworker_job_duration_seconds", "Run time of this process's jobs", "histogram", () =>
      [...tallies].flatMap(([cls, t]) => {
        let cumulative = 0;
        const name = "bunworker_job_duration_seconds";
        const buckets = [...DURATION_BUCKETS, "+Inf"].map((le, i) => {
          cumulative += t.buckets[i] as number;
          return { value: cumulative, labels: { le, class: cls }, metricName: `${name}_bucket` };
        });
        return [...buckets, { value: t.sum, labels: { class: cls }, metricName: `${name}_sum` }, { value: t.count, labels: { class: cls }, metricName: `${name}_count` }];
      }),
    );
    new Gauge({ name: "bunworker_jobs_in_flight", help: "Jobs running in this process now", registers: [this.registry], collect() { this.set(observer.inFlight); } });
    return observer;
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

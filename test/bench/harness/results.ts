// Results: each one is printed as a JSON line on stdout the moment it is known (so a run cut short still
// leaves its numbers), kept for the markdown table printed at the end, and checked against the targets of
// issues #5 and #10 (TARGETS, looked up by the full scenario name, then by its first segment).
import { relativeFields, type Baseline } from "./baseline";
import type { Options } from "./options";
import { round } from "./stats";

export type Result = Record<string, unknown> & { scenario: string };

export class Results {
  readonly list: Result[] = [];
  /** This run's Redis floor (baseline.ts): rows emitted after it is set carry their multiples of it. */
  baseline: Baseline | null = null;

  emit(r: Result): void {
    Object.assign(r, relativeFields(r, this.baseline));
    this.list.push(r);
    process.stdout.write(JSON.stringify(r) + "\n");
  }
}

export const workerName = (opts: Options) => (opts.workerCmd !== undefined ? "custom" : "bunworker");

interface Target {
  text: string;
  met: (r: Result) => boolean;
}

const n = (r: Result, k: string) => r[k] as number;
const intervalPickup: Target = { text: "p50 ≤ --interval", met: (r) => n(r, "pickup_p50_ms") <= n(r, "interval_s") * 1000 };

// Pickups on blocking queues and followers: one hop, so p50 ≤ 2× the one-line EVALSHA round trip of this run.
const fastPickup: Target = { text: "p50 ≤ 2× EVALSHA RTT", met: (r) => n(r, "pickup_x_evalsha_rtt") <= 2 };
// Through a keyspace notification: two hops, p50 ≤ 2× the two-hop floor of this run.
const notifiedPickup: Target = { text: "p50 ≤ 2× two-hop floor", met: (r) => n(r, "pickup_x_two_hop") <= 2 };

const TARGETS: Record<string, Target> = {
  drain: { text: "≥ 2× LPOP/s, ≤ 5.5 µs Redis, ≤ 40 MB", met: (r) => n(r, "drain_x_lpop") >= 2 && n(r, "redis_cpu_us_per_job") <= 5.5 && n(r, "peak_rss_mb") <= 40 },
  pickup: { text: "p50 ≤ 2× EVALSHA RTT, p99 ≤ 5 ms", met: (r) => n(r, "pickup_x_evalsha_rtt") <= 2 && n(r, "pickup_p99_ms") <= 5 },
  idle: { text: "≤ 1 command/s", met: (r) => (r.idle_cmds_per_s as number) <= 1 },
  // queues, queues:notify, queues:3
  queues: { text: "≤ 10 connections, ≤ 1 command/s", met: (r) => n(r, "connections") <= 10 && n(r, "idle_cmds_per_s") <= 1 },
  "queues:first": fastPickup,
  "queues:middle": intervalPickup,
  "queues:last": intervalPickup,
  "queues:spread": intervalPickup,
  "queues:notify:first": fastPickup,
  "queues:notify:middle": notifiedPickup,
  "queues:notify:last": notifiedPickup,
  "queues:notify:spread": notifiedPickup,
  cycle: { text: "≤ 5.5 µs Redis", met: (r) => n(r, "redis_cpu_us_per_job") <= 5.5 },
  slots: { text: "≥ 95 % of slots / 50 ms", met: (r) => (r.of_bound as number) >= 0.95 },
  "processes:2": { text: "≥ 1.7× processes:1", met: (r) => (r.speedup_vs_1 as number) >= 1.7 },
  enqueue: { text: "≥ 300,000 jobs/s", met: (r) => n(r, "jobs_per_s") >= 300_000 },
  "delayed:lateness": { text: "p99 ≤ 1,000 ms after the due second", met: (r) => n(r, "pickup_p99_ms") <= 1000 && n(r, "missed") === 0 },
  "startup:binary": { text: "≤ 30 ms", met: (r) => n(r, "startup_ms") <= 30 },
  "startup:source": { text: "≤ 40 ms", met: (r) => n(r, "startup_ms") <= 40 },
};

function targetOf(r: Result): Target | undefined {
  return TARGETS[r.scenario] ?? TARGETS[r.scenario.split(":")[0] as string];
}

function fmt(v: unknown, digits = 2): string {
  if (v === undefined || v === null || (typeof v === "number" && !Number.isFinite(v))) return "–";
  if (typeof v === "number") return v >= 1000 ? Math.round(v).toLocaleString("en-US") : String(round(v, digits));
  return String(v);
}

/** The "other" column: what matters for this kind of row beyond the common columns. */
function other(r: Result): string {
  if (r.skipped) return `skipped: ${r.skipped}`;
  if (r.error) return `error: ${String(r.error).slice(0, 120)}`;
  if (r.scenario === "idle") return `${fmt(r.idle_cmds_per_s)} cmds/s (${fmt(r.idle_client_cmds_per_s)} sent by the worker)`;
  if (r.scenario.startsWith("queues") && r.connections !== undefined) return `${fmt(r.connections)} connections, ${fmt(r.idle_cmds_per_s)} cmds/s (${fmt(r.idle_client_cmds_per_s)} sent by the worker)`;
  if (r.scenario.startsWith("queues") && r.queue !== undefined) return `${r.queue}: ${fmt(r.missed)} missed (wait cap ${fmt(r.wait_cap_s)} s), --interval=${fmt(r.interval_s)}${r.connections_after !== undefined ? `; ${fmt(r.connections_after)} connections after` : ""}`;
  if (r.scenario.startsWith("startup")) return `exec → first fetch ${fmt(r.startup_ms, 1)} ms (min ${fmt(r.first_fetch_min_ms, 1)}, first command ${fmt(r.first_command_p50_ms, 1)} ms)`;
  if (r.scenario.startsWith("processes")) return `${fmt(r.jobs_per_s_processing)} jobs/s first→last job${r.speedup_vs_1 !== undefined ? `, ×${fmt(r.speedup_vs_1)}` : ""}${r.exited_by_itself === false ? ", did not exit by itself" : ""}`;
  if (r.scenario === "delayed:lateness") return `${fmt(r.missed)} missed, max ${fmt(r.max_ms)} ms, --interval=${fmt(r.interval_s)}`;
  if (r.scenario === "delayed:promote") return `due items promoted per second`;
  if (r.scenario === "slots") return `--concurrency=${fmt(r.concurrency)}: ${fmt(((r.of_bound as number) ?? NaN) * 100, 1)} % of the ${fmt(r.bound_jobs_per_s)}/s bound (steady, 10→90 % of the jobs: ${fmt(((r.of_bound_steady as number) ?? NaN) * 100, 1)} %)`;
  if (r.scenario === "enqueue") return `redis-benchmark LPUSH -P 100: ${fmt(r.redis_benchmark_lpush_per_s)}/s (${fmt(r.of_lpush_limit_pct, 1)} % of it)`;
  if (r.scenario.startsWith("baseline")) return `LPOP ${fmt(r.lpop_per_s)}/s un-pipelined; RTT p50: PING ${fmt(r.ping_rtt_p50_ms, 3)} ms, EVALSHA ${fmt(r.evalsha_rtt_p50_ms, 3)} ms, two hops ${fmt(r.two_hop_p50_ms, 3)} ms`;
  if (r.scenario === "cycle") return `${fmt(r.script_usec_per_call)} µs/script call, ${fmt(r.script_usec_per_job)} µs/job in the script; fleet ceiling ${fmt(r.fleet_ceiling_jobs_per_s)} jobs/s per Redis core`;
  if (r.scenario.startsWith("drain")) return `${fmt(r.jobs_per_evalsha, 1)} jobs/EVALSHA, ${fmt(r.script_usec_per_call)} µs/script call; fleet ceiling ${fmt(r.fleet_ceiling_jobs_per_s)} jobs/s per Redis core; RSS ${fmt(r.peak_rss_at_20pct_mb, 1)} MB at 20 %`;
  return "";
}

/** The row against this run's Redis floor (baseline.ts). */
function relative(r: Result): string {
  if (r.drain_x_lpop !== undefined) return `×${fmt(r.drain_x_lpop)} LPOP`;
  if (r.pickup_x_two_hop !== undefined) return `×${fmt(r.pickup_x_evalsha_rtt)} RTT, ×${fmt(r.pickup_x_two_hop)} two-hop`;
  if (r.pickup_x_evalsha_rtt !== undefined) return `×${fmt(r.pickup_x_evalsha_rtt)} RTT`;
  return "";
}

function row(r: Result): string[] {
  const t = targetOf(r);
  const pickup = r.pickup_p50_ms !== undefined ? `${fmt(r.pickup_p50_ms, 3)} / ${fmt(r.pickup_p99_ms, 3)}` : "";
  const met = r.skipped || r.error || !t ? "" : t.met(r) ? "yes" : "**no**";
  return [r.scenario, fmt(r.jobs), fmt(r.seconds, 3), fmt(r.jobs_per_s), pickup, fmt(r.worker_cpu_us_per_job), fmt(r.redis_cpu_us_per_job), fmt(r.redis_cmds_per_job), fmt(r.peak_rss_mb, 1), relative(r), other(r), t?.text ?? "", met]
    .map((c) => (c === "–" && !r.jobs_per_s ? "" : c));
}

export function table(results: Result[]): string {
  const head = ["scenario", "jobs", "seconds", "jobs/s", "pickup p50 / p99 ms", "worker µs/job", "Redis µs/job", "Redis cmds/job", "peak RSS MB", "vs Redis", "other", "target", "met"];
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...results.map((r) => line(row(r)))].join("\n");
}

// Results: each one is printed as a JSON line on stdout the moment it is known (so a run cut short still
// leaves its numbers), kept for the markdown table printed at the end, and checked against the targets of
// issues #5 and #10 (TARGETS, looked up by the full scenario name, then by its first segment).
import type { Options } from "./options";
import { round } from "./stats";

export type Result = Record<string, unknown> & { scenario: string };

export class Results {
  readonly list: Result[] = [];

  emit(r: Result): void {
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
const fastPickup: Target = { text: "p50 ≤ 0.5 ms", met: (r) => n(r, "pickup_p50_ms") <= 0.5 };
const intervalPickup: Target = { text: "p50 ≤ --interval", met: (r) => n(r, "pickup_p50_ms") <= n(r, "interval_s") * 1000 };

const TARGETS: Record<string, Target> = {
  drain: { text: "≥ 100,000 jobs/s, ≤ 10 µs worker, ≤ 5 µs Redis, ≤ 40 MB", met: (r) => (r.jobs_per_s as number) >= 100_000 && (r.worker_cpu_us_per_job as number) <= 10 && (r.redis_cpu_us_per_job as number) <= 5 && (r.peak_rss_mb as number) <= 40 },
  pickup: { text: "p50 ≤ 0.5 ms, p99 ≤ 5 ms", met: (r) => (r.pickup_p50_ms as number) <= 0.5 && (r.pickup_p99_ms as number) <= 5 },
  idle: { text: "≤ 1 command/s", met: (r) => (r.idle_cmds_per_s as number) <= 1 },
  // queues, queues:notify, queues:3
  queues: { text: "≤ 10 connections, ≤ 1 command/s", met: (r) => n(r, "connections") <= 10 && n(r, "idle_cmds_per_s") <= 1 },
  "queues:first": fastPickup,
  "queues:middle": intervalPickup,
  "queues:last": intervalPickup,
  "queues:spread": intervalPickup,
  "queues:notify:first": fastPickup,
  "queues:notify:middle": fastPickup,
  "queues:notify:last": fastPickup,
  "queues:notify:spread": fastPickup,
  slots: { text: "≥ 95 % of slots / 50 ms", met: (r) => (r.of_bound as number) >= 0.95 },
  "processes:2": { text: "≥ 1.7× processes:1", met: (r) => (r.speedup_vs_1 as number) >= 1.7 },
  startup: { text: "< 50 ms", met: (r) => (r.startup_ms as number) < 50 },
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
  if (r.scenario === "slots") return `--concurrency=${fmt(r.concurrency)}: ${fmt(((r.of_bound as number) ?? NaN) * 100, 1)} % of the ${fmt(r.bound_jobs_per_s)}/s bound`;
  if (r.scenario === "drain") return `${fmt(r.jobs_per_evalsha, 1)} jobs/EVALSHA; from spawn ${fmt(r.jobs_per_s_from_spawn)} jobs/s`;
  return "";
}

function row(r: Result): string[] {
  const t = targetOf(r);
  const pickup = r.pickup_p50_ms !== undefined ? `${fmt(r.pickup_p50_ms, 3)} / ${fmt(r.pickup_p99_ms, 3)}` : "";
  const met = r.skipped || r.error || !t ? "" : t.met(r) ? "yes" : "**no**";
  return [r.scenario, fmt(r.jobs), fmt(r.seconds, 3), fmt(r.jobs_per_s), pickup, fmt(r.worker_cpu_us_per_job), fmt(r.redis_cpu_us_per_job), fmt(r.redis_cmds_per_job), fmt(r.peak_rss_mb, 1), other(r), t?.text ?? "", met]
    .map((c) => (c === "–" && !r.jobs_per_s ? "" : c));
}

export function table(results: Result[]): string {
  const head = ["scenario", "jobs", "seconds", "jobs/s", "pickup p50 / p99 ms", "worker µs/job", "Redis µs/job", "Redis cmds/job", "peak RSS MB", "other", "target", "met"];
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...results.map((r) => line(row(r)))].join("\n");
}

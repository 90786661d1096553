// The Schedules page (#18): every recurring schedule the fleet knows of. Ruby's persisted dynamic ones
// (persistent_schedules) are in Redis; schedules defined in code (a TypeScript schedule() call, a --schedule
// file, a Ruby initializer) live only in the memory of the process that defines them, so the dashboard shows
// those it was given (--schedule, or the worker's own when it runs with --web) and, of any other, only the name
// and last run that the lock holder wrote (delayed:last_enqueued_at, bunworker:schedule-ticks).
import type { RedisClient } from "bun";
import type { Keys } from "../keys";
import { redisNowMs } from "../resque-data";
import { parseSchedule, type Schedule, type ScheduleConfig } from "../schedule";
import { iso, lockLine } from "./delayed-page";
import { esc, table, td, tdHtml } from "./html";
import type { DashboardSection } from "./section";

interface Row {
  name: string;
  source: string;
  config: ScheduleConfig | null;
  schedule: Schedule | null;
  problem: string;
}

const first = (v: unknown): string => String(Array.isArray(v) ? v[0] : (v ?? ""));

async function hash(c: RedisClient, key: string, problems: string[]): Promise<Record<string, string>> {
  try {
    return ((await c.send("HGETALL", [key])) ?? {}) as Record<string, string>;
  } catch (e) {
    problems.push(`${key} unreadable: ${(e as Error).message}`);
    return {};
  }
}

/** Persisted ones win over configured ones of the same name, as in the scheduler (scheduler.ts). */
export async function scheduleRows(c: RedisClient, keys: Keys, configured: readonly Schedule[], problems: string[]): Promise<{ rows: Row[]; last: Record<string, string>; ticks: Record<string, string> }> {
  const [persisted, last, ticks] = await Promise.all([hash(c, keys.persistentSchedules, problems), hash(c, keys.lastEnqueuedAt, problems), hash(c, keys.scheduleTicks, problems)]);
  const rows = new Map<string, Row>();
  for (const s of configured) rows.set(s.name, { name: s.name, source: "configured here", config: s.config, schedule: s, problem: "" });
  for (const [name, json] of Object.entries(persisted)) {
    let config: ScheduleConfig | null = null;
    try {
      config = JSON.parse(json) as ScheduleConfig;
      rows.set(name, { name, source: "persisted (Redis)", config, schedule: parseSchedule(name, config), problem: "" });
    } catch (e) {
      rows.set(name, { name, source: "persisted (Redis)", config, schedule: null, problem: `skipped by the scheduler: ${(e as Error).message}; stored as ${json}` });
    }
  }
  for (const name of [...Object.keys(last), ...Object.keys(ticks)]) {
    if (!rows.has(name)) rows.set(name, { name, source: "defined elsewhere", config: null, schedule: null, problem: "defined in another process's code: only its last run is in Redis" });
  }
  return { rows: [...rows.values()].sort((a, b) => a.name.localeCompare(b.name)), last, ticks };
}

async function schedulesPage(c: RedisClient, keys: Keys, configured: readonly Schedule[], lock: string): Promise<string> {
  const problems: string[] = [];
  const [{ rows, last, ticks }, nowMs] = await Promise.all([scheduleRows(c, keys, configured, problems), redisNowMs(c)]);
  const body = rows.map((r) => {
    const cfg = r.config ?? {};
    const how = cfg.cron !== undefined ? `cron ${first(cfg.cron)}` : cfg.every !== undefined ? `every ${first(cfg.every)}` : "";
    const tick = ticks[r.name];
    const lastRun = [last[r.name], tick ? `tick ${iso(Number(tick))}` : ""].filter(Boolean).join(" · ") || "never";
    const next = r.schedule?.next(new Date(nowMs));
    const args = r.config ? JSON.stringify(cfg.args ?? []) : "";
    return [
      td(r.name, "name"), td(how), td(r.config ? (cfg.class ?? r.name) : "", "cls"), td(cfg.queue ?? ""), tdHtml(`<code>${esc(args)}</code>`, "args"),
      tdHtml(`${esc(cfg.description ?? "")}${r.problem ? `<br><small class="problem">${esc(r.problem)}</small>` : ""}`),
      td(lastRun), td(next ? iso(next.getTime()) : r.schedule ? "none" : "unknown here"), td(r.source),
    ];
  });
  const note = configured.length ? "" : `<p class="note">This dashboard was given no schedule file and runs in no worker: schedules defined in code elsewhere show only their last run. Start it with --schedule=FILE, or use a worker's --web, to see theirs in full.</p>`;
  return `<h1>Schedules <small>${rows.length}</small></h1>${lock}${problems.map((p) => `<p class="msg warn">${esc(p)}</p>`).join("")}
${rows.length ? table(["name", "when", "class", "queue", "args", "description", "last run", "next run (UTC)", "source"], body, "schedules") : "<p>No schedules known.</p>"}${note}
<p class="note">An "every" schedule ticks at multiples of its period since the epoch in bunworker; a Ruby scheduler counts from its own start.</p>`;
}

export function schedulesSection(configured: readonly Schedule[]): DashboardSection {
  return {
    nav: { path: "/schedules", label: "Schedules" },
    async page(i, path) {
      if (path !== "/schedules") return null;
      return { title: "Schedules", main: await schedulesPage(i.c, i.keys, configured, await lockLine(i)) };
    },
    actions: {},
  };
}

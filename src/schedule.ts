// Recurring schedules in resque-scheduler's format (reference section 3): a name -> { cron | every, class,
// args, queue, description }, from TypeScript, from a YAML schedule file (Bun's own YAML parser) or from
// Ruby's persisted dynamic schedules (`persistent_schedules`). Cron as rufus-scheduler reads it: 5 fields, or
// 6 with seconds first, `@hourly`-style aliases, an optional trailing time-zone name; parsed by croner.
import { readFileSync } from "node:fs";
import { Cron } from "croner";
import { SettingsError } from "./errors";
import { rubyJson } from "./delayed";

export interface ScheduleConfig {
  cron?: string | [string, Record<string, unknown>];
  every?: string | [string, Record<string, unknown>];
  /** The job class; defaults to the schedule's name, as in resque-scheduler. */
  class?: string;
  /** An array, or one value (a Hash becomes [hash], nil [], as Ruby's enqueue_from_config does). */
  args?: unknown;
  queue?: string;
  description?: string;
  [other: string]: unknown;
}

export interface Schedule {
  readonly name: string;
  readonly queue: string;
  /** {"class","args"}: what each tick pushes. */
  readonly payload: string;
  /** The config it was made from, for display (the dashboard's Schedules page). */
  readonly config: ScheduleConfig;
  /** The latest tick at or before `at`, or null. */
  latest(at: Date): Date | null;
  /** The first tick after `at`, or null. */
  next(at: Date): Date | null;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, M: 2_592_000_000, y: 31_536_000_000 };

/** A rufus duration ("1s", "15m", "1h30m", "1d", "2w", plain seconds "90") in ms; null if it is not one. */
export function parseDuration(text: string): number | null {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  if (!/^(\d+(\.\d+)?(ms|[smhdwMy]))+$/.test(t)) return null;
  let ms = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|[smhdwMy])/g)) ms += Number(m[1]) * (UNITS[m[2] as string] as number);
  return ms;
}

function isZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function cronOf(name: string, text: string): Cron {
  const words = text.trim().split(/\s+/);
  const last = words[words.length - 1] as string;
  const zoned = words.length > 1 && !/^[\d*?/,LW#-]+$/i.test(last) && isZone(last);
  const pattern = (zoned ? words.slice(0, -1) : words).join(" ");
  try {
    return new Cron(pattern, { mode: "5-or-6-parts", paused: true, ...(zoned ? { timezone: last } : {}) });
  } catch (e) {
    throw new SettingsError(`schedule ${JSON.stringify(name)}: cron ${JSON.stringify(text)} is not valid (${(e as Error).message})`);
  }
}

const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);

/** Ruby's args rule: nil -> [], Hash -> [hash], Array as is, anything else -> [value]. */
function argsOf(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

export function parseSchedule(name: string, c: ScheduleConfig): Schedule {
  const where = `schedule ${JSON.stringify(name)}`;
  if (!name) throw new SettingsError("a schedule needs a name");
  if (c === null || typeof c !== "object") throw new SettingsError(`${where}: must be a mapping with cron or every, class, args, queue`);
  const cls = c.class ?? name;
  if (typeof cls !== "string" || !cls) throw new SettingsError(`${where}: class must be a non-empty string`);
  if (typeof c.queue !== "string" || !c.queue) throw new SettingsError(`${where}: queue is required (bunworker cannot read a Ruby class's @queue)`);
  const payload = rubyJson({ class: cls, args: argsOf(c.args) });
  const cronText = first(c.cron);
  const everyText = first(c.every);
  // cron wins over every, as in resque-scheduler.
  if (typeof cronText === "string") {
    const cron = cronOf(name, cronText);
    return {
      name, queue: c.queue, payload, config: c,
      latest: (at) => cron.previousRuns(1, new Date(at.getTime() + 1))[0] ?? null,
      next: (at) => cron.nextRun(at),
    };
  }
  if (typeof everyText === "string") {
    const ms = parseDuration(everyText);
    if (!ms || ms < 1000) throw new SettingsError(`${where}: every ${JSON.stringify(everyText)} is not a duration of at least 1s (e.g. 30s, 15m, 1h30m, 1d)`);
    // Ticks at multiples of the duration since the epoch: a fleet and its successive masters agree on them
    // (rufus counts from its own process start, which no other process can know).
    return {
      name, queue: c.queue, payload, config: c,
      latest: (at) => new Date(Math.floor(at.getTime() / ms) * ms),
      next: (at) => new Date((Math.floor(at.getTime() / ms) + 1) * ms),
    };
  }
  throw new SettingsError(`${where}: needs cron or every`);
}

/** A resque-scheduler schedule file: a YAML mapping of name -> config. */
export function parseScheduleYaml(text: string, source: string): Schedule[] {
  let doc: unknown;
  try {
    doc = Bun.YAML.parse(text);
  } catch (e) {
    throw new SettingsError(`${source}: not valid YAML (${(e as Error).message.split("\n")[0]})`);
  }
  if (doc === null || doc === undefined) return [];
  if (typeof doc !== "object" || Array.isArray(doc)) throw new SettingsError(`${source}: must be a mapping of schedule name -> { cron or every, class, args, queue }`);
  return Object.entries(doc as Record<string, ScheduleConfig>).map(([name, c]) => {
    try {
      return parseSchedule(name, c);
    } catch (e) {
      throw new SettingsError(`${source}: ${(e as Error).message}`);
    }
  });
}

/** The file's text; a missing or unreadable file is a SettingsError naming it. */
export function readScheduleFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new SettingsError(`--schedule: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

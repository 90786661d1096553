// consola, set up once per worker: lifecycle at info, each job at debug, failures at warn (issue #2).
// --log-format=json writes one JSON object per line to stdout, for log shippers. We use consola's core with
// our own two reporters: its default (fancy) reporter costs ~20 ms of start-up (issue #3 wants < 50 ms).
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";
import type { LogFormat, LogLevel } from "./settings";

const LEVELS: Record<LogLevel, number> = { silent: -999, error: 0, warn: 1, info: 3, debug: 4, trace: 5 };

function split(o: LogObject): { msg: string; fields: Record<string, unknown> } {
  const parts: string[] = [];
  const fields: Record<string, unknown> = {};
  for (const a of o.args) {
    if (a instanceof Error) parts.push(`${a.name}: ${a.message}`);
    else if (a && typeof a === "object") Object.assign(fields, a);
    else parts.push(String(a));
  }
  return { msg: parts.join(" "), fields };
}

function jsonLine(o: LogObject): string {
  const { msg, fields } = split(o);
  const line = { time: o.date.toISOString(), level: o.type, ...(o.tag ? { tag: o.tag } : {}), msg, ...fields };
  return JSON.stringify(line, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) + "\n";
}

function prettyLine(o: LogObject): string {
  const { msg, fields } = split(o);
  const extra = Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : "";
  return `${o.date.toISOString()} ${o.type.toUpperCase().padEnd(5)} ${msg}${extra}\n`;
}

const toStderr = (o: LogObject) => o.level <= 1;

export function createLogger(level: LogLevel, format: LogFormat): ConsolaInstance {
  const reporter = format === "json"
    ? { log: (o: LogObject) => void process.stdout.write(jsonLine(o)) }
    : { log: (o: LogObject) => void (toStderr(o) ? process.stderr : process.stdout).write(prettyLine(o)) };
  return createConsola({ level: LEVELS[level], reporters: [reporter] });
}

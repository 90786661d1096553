// consola, set up once per worker: lifecycle at info, each job at debug, failures at warn (issue #2).
// --log-format=json writes one JSON object per line to stdout, for log shippers.
import { createConsola, type ConsolaInstance, type LogObject } from "consola";
import type { LogFormat, LogLevel } from "./settings";

const LEVELS: Record<LogLevel, number> = { silent: -999, error: 0, warn: 1, info: 3, debug: 4, trace: 5 };

function jsonLine(o: LogObject): string {
  const parts: string[] = [];
  const fields: Record<string, unknown> = {};
  for (const a of o.args) {
    if (a instanceof Error) parts.push(`${a.name}: ${a.message}`);
    else if (a && typeof a === "object") Object.assign(fields, a);
    else parts.push(String(a));
  }
  const line = { time: o.date.toISOString(), level: o.type, ...(o.tag ? { tag: o.tag } : {}), msg: parts.join(" "), ...fields };
  return JSON.stringify(line, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) + "\n";
}

export function createLogger(level: LogLevel, format: LogFormat): ConsolaInstance {
  const reporters = format === "json" ? [{ log: (o: LogObject) => void process.stdout.write(jsonLine(o)) }] : undefined;
  return createConsola({ level: LEVELS[level], ...(reporters ? { reporters } : {}), formatOptions: { date: true, colors: process.stdout.isTTY } });
}

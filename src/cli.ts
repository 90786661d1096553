// Command line -> settings (issue #2). Accepts `--flag=value`, `--flag value` and goworker's own `-flag=value`
// / `-flag value`, so a Procfile written for goworker works unchanged. Refuses anything it does not know with
// one line naming the flag; the caller prints it with the usage line and exits 2.
import { defineCommand, parseArgs, type ArgsDef } from "citty";
import { SettingsError } from "./errors";
import { renderHelp } from "./help";
import { defaultSettings, DURATION_LIMITS, type DeadJobPolicy, type DurationSetting, type LogFormat, type LogLevel, type Settings } from "./settings";
import { VERSION } from "./version";

const d = defaultSettings({});
const str = (description: string, valueHint: string) => ({ type: "string" as const, description, valueHint });
/** ", at most 300 = 5 minutes": every duration's upper bound, in its help line. */
const upTo = (key: DurationSetting) => `, at most ${DURATION_LIMITS[key].max} = ${DURATION_LIMITS[key].words}`;

const args = {
  queues: str("queues to serve, in priority order; weights high=2,low=1; patterns *, mail_*, !skip", "high,low"),
  concurrency: str(`jobs run at once, one Resque worker each (default ${d.concurrency})`, "n"),
  interval: str(`seconds between looks (one EXISTS) at the queues no blocking wait or keyspace notification covers, and between re-reads of a * or glob queue list; blocking queues pick jobs up at once (default ${d.interval}${upTo("interval")})`, "s"),
  connections: str(`Redis connections for commands = fetch lanes (default ${d.connections})`, "n"),
  uri: str("redis://[user:pass@]host:port/db, rediss://..., unix:///path.sock (default $REDIS_URL, then the variable that $REDIS_PROVIDER names, then redis://localhost:6379/)", "uri"),
  namespace: str(`key prefix, colon included (default ${d.namespace})`, "ns"),
  "exit-on-complete": { type: "boolean" as const, description: "exit once every queue is empty and no job runs" },
  "use-number": { type: "boolean" as const, description: "pass integers beyond 2^53 to jobs as exact bigint" },
  "insecure-tls": { type: "boolean" as const, description: "do not verify the server's TLS certificate (logged)" },
  "tls-cert": str("PEM file of the CA that signed the server's certificate", "file"),
  "shutdown-timeout": str(`seconds running jobs get after TERM/INT/QUIT before they are handed back (default ${d.shutdownTimeout}${upTo("shutdownTimeout")})`, "s"),
  "job-timeout": str(`seconds before a running job fails with JobTimeoutError; 0 = none (default 0${upTo("jobTimeout")})`, "s"),
  processes: str("worker processes under one supervisor, or auto = one per core (default 1)", "n|auto"),
  "dead-jobs": str("a dead worker's in-flight jobs: requeue (default) or fail", "requeue|fail"),
  "blocking-queues": str(`how many of the highest-priority queues get a blocking wait (one connection each) for sub-millisecond pickup (default ${d.blockingQueues})`, "n"),
  "min-replicas": str(`a job starts only once its fetch has reached this many replicas (WAIT): no job runs twice after a failover (default ${d.minReplicas}: off)`, "n"),
  "follow-queues": str(`how many more blocking waits follow the queues that had a job most recently (one connection each) (default ${d.followQueues})`, "n"),
  "keyspace-notifications": str("auto (default: use the server's list events when on), enable (turn them on in the server), off", "auto|enable|off"),
  "heartbeat-interval": str(`seconds between heartbeats (default ${d.heartbeatInterval}${upTo("heartbeatInterval")})`, "s"),
  "dead-after": str(`seconds without a heartbeat before another host's worker is dead (default ${d.deadAfter}${upTo("deadAfter")})`, "s"),
  "command-timeout": str(`seconds a Redis command may take before its connection is replaced (default ${d.commandTimeout}${upTo("commandTimeout")})`, "s"),
  "log-level": str("silent, error, warn, info (default), debug or trace", "level"),
  "log-format": str("pretty (default) or json (one object per line)", "format"),
  promote: { type: "boolean" as const, description: "promote due delayed jobs under resque-scheduler's master lock (default on; --no-promote or --promote=false turns it off)" },
  schedule: str("resque-scheduler schedule file (YAML): recurring jobs enqueued by the process holding the master lock", "file"),
  web: str("also serve the dashboard on [HOST:]PORT; 127.0.0.1 unless a host is given, and any other host needs --web-token", "[host:]port"),
  "web-token": str("token the dashboard requires (default $BUNWORKER_WEB_TOKEN)", "token"),
  "metrics-port": str("serve Prometheus metrics at /metrics on [HOST:]PORT (127.0.0.1 unless a host is given); with --processes=N, child n on PORT+n-1", "[host:]port"),
  "list-jobs": { type: "boolean" as const, description: "print the registered job classes and exit" },
  version: { type: "boolean" as const, description: "print the version and exit" },
  help: { type: "boolean" as const, description: "show this help", alias: "h" },
} satisfies ArgsDef;

export const command = defineCommand({
  meta: { name: "bunworker", version: VERSION, description: "Resque-compatible background worker for Bun" },
  args,
});

export const USAGE = "usage: bunworker --queues=q1[,q2] [--concurrency=25] [--interval=5] [--uri=redis://host:6379/] [options]  (--help lists all)";

export type Action = "run" | "help" | "version" | "list-jobs";

/** The operator's side of a worker (#18): a dashboard and metrics beside it. */
export interface OperatorFlags {
  web?: string;
  webToken?: string;
  metricsPort?: string;
}

export interface CommandLine {
  action: Action;
  settings: Partial<Settings>;
  operator?: OperatorFlags;
}

const BOOLEAN = new Set(Object.entries(args).filter(([, a]) => a.type === "boolean").map(([k]) => k));
const KNOWN = new Set([...Object.keys(args), "h"]);

/** One flag as written: its name, its value (after "=" or the next word) and the words it took. */
interface Token {
  name: string;
  value: string | undefined;
  words: string[];
}

/** Splits argv into flags as Go's flag package does (the word after a non-boolean flag is its value); refuses unknown flags. */
function tokenize(argv: string[]): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--") throw new SettingsError(`unexpected argument "--"`);
    if (!a.startsWith("-")) throw new SettingsError(`unexpected argument "${a}"`);
    const body = a.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    // --no-<boolean> (e.g. --no-promote) is the boolean set to false.
    if (eq < 0 && name.startsWith("no-") && BOOLEAN.has(name.slice(3))) {
      out.push({ name: name.slice(3), value: "false", words: [a] });
      continue;
    }
    if (!KNOWN.has(name)) throw new SettingsError(`unknown flag "${a.split("=")[0]}"`);
    if (name === "h") out.push({ name, value: undefined, words: [a] });
    else if (eq >= 0) {
      const value = body.slice(eq + 1);
      if (BOOLEAN.has(name) && !/^(true|false|1|0)$/.test(value)) throw new SettingsError(`--${name} takes no value or true/false, got "${value}"`);
      out.push({ name, value, words: [a] });
    } else if (BOOLEAN.has(name)) out.push({ name, value: undefined, words: [a] });
    else {
      const value = argv[++i];
      if (value === undefined) throw new SettingsError(`--${name} needs a value`);
      out.push({ name, value, words: [a, value] });
    }
  }
  return out;
}

/** goworker's `-queues=x` and `-queues x` become `--queues=x` / `--queues x`; unknown flags are refused. */
export function normalize(argv: string[]): string[] {
  return tokenize(argv).map(({ name, value }) => {
    if (name === "h") return "--help";
    if (!BOOLEAN.has(name)) return `--${name}=${value}`;
    return value === undefined || /^(true|1)$/.test(value) ? `--${name}` : `--no-${name}`;
  });
}

/** argv as written, without every occurrence of one flag (and its value word). */
export function withoutFlag(argv: string[], flag: string): string[] {
  return tokenize(argv).filter((t) => t.name !== flag).flatMap((t) => t.words);
}

function num(flag: string, v: string): number {
  if (!/^\s*-?(\d+\.?\d*|\.\d+)\s*$/.test(v)) throw new SettingsError(`--${flag} must be a number, got "${v}"`);
  return Number(v);
}

/** Parse argv (without the program name) and the environment into settings and an action. */
export function parseCommandLine(argv: string[], env: Record<string, string | undefined> = process.env): CommandLine {
  const p = parseArgs(normalize(argv), args) as Record<string, string | boolean | undefined>;
  const s: Partial<Settings> = {};
  const text = (k: string) => (typeof p[k] === "string" ? (p[k] as string) : undefined);
  const queues = text("queues") ?? env.QUEUES ?? env.QUEUE;
  if (queues !== undefined) s.queues = queues.split(",").map((q) => q.trim()).filter(Boolean);
  const numbers: [string, keyof Settings][] = [["concurrency", "concurrency"], ["interval", "interval"], ["connections", "connections"],
    ["shutdown-timeout", "shutdownTimeout"], ["job-timeout", "jobTimeout"], ["heartbeat-interval", "heartbeatInterval"],
    ["dead-after", "deadAfter"], ["command-timeout", "commandTimeout"], ["blocking-queues", "blockingQueues"], ["follow-queues", "followQueues"], ["min-replicas", "minReplicas"]];
  for (const [flag, key] of numbers) {
    const fromEnv = flag === "interval" && text(flag) === undefined && env.INTERVAL !== undefined;
    const v = text(flag) ?? (flag === "interval" ? env.INTERVAL : undefined);
    if (v !== undefined) (s as Record<string, number>)[key] = num(fromEnv ? "interval (from $INTERVAL)" : flag, v);
  }
  const procs = text("processes");
  if (procs !== undefined) s.processes = procs === "auto" ? "auto" : num("processes", procs);
  if (text("uri") !== undefined) s.uri = text("uri");
  if (text("namespace") !== undefined) s.namespace = text("namespace");
  if (text("schedule") !== undefined) s.scheduleFile = text("schedule");
  if (text("tls-cert") !== undefined) s.tlsCert = text("tls-cert");
  if (text("log-level") !== undefined) s.logLevel = text("log-level") as LogLevel;
  if (text("log-format") !== undefined) s.logFormat = text("log-format") as LogFormat;
  if (text("dead-jobs") !== undefined) s.deadJobs = text("dead-jobs") as DeadJobPolicy;
  if (text("keyspace-notifications") !== undefined) s.keyspaceNotifications = text("keyspace-notifications") as Settings["keyspaceNotifications"];
  if (p["exit-on-complete"] !== undefined) s.exitOnComplete = p["exit-on-complete"] === true;
  if (p["use-number"] !== undefined) s.useNumber = p["use-number"] === true;
  if (p.promote !== undefined) s.promote = p.promote === true;
  if (p["insecure-tls"] !== undefined) s.insecureTls = p["insecure-tls"] === true;
  const action: Action = p.help ? "help" : p.version ? "version" : p["list-jobs"] ? "list-jobs" : "run";
  const operator: OperatorFlags = {};
  if (text("web") !== undefined) operator.web = text("web");
  if (text("web-token") !== undefined) operator.webToken = text("web-token");
  if (text("metrics-port") !== undefined) operator.metricsPort = text("metrics-port");
  return Object.keys(operator).length ? { action, settings: s, operator } : { action, settings: s };
}

const SUBCOMMAND_HELP = [
  "  info       what Resque.info reports",
  "  queues     queues with size and oldest item's age",
  "  workers    workers: state, job, heartbeat age, dead or alive",
  "  failed     list|show|requeue|remove|clear failed jobs",
  "  enqueue    QUEUE CLASS [ARGS_JSON]: push one job",
  "  delayed    list|remove|enqueue-now delayed jobs (resque-scheduler's)",
  "  web        the dashboard (http://127.0.0.1:5678/ by default)",
  "  bunworker <command> --help shows a command's options",
];

/** The worker's help: 80 columns, colour only on a terminal (help.ts). */
export function helpText(colour?: boolean): Promise<string> {
  const spec = { usage: "bunworker [options] | bunworker <command> [options]", description: "Resque-compatible background worker for Bun. Without a command it runs the worker.", args, sections: [["COMMANDS", SUBCOMMAND_HELP]] as [string, string[]][] };
  return Promise.resolve(renderHelp(spec, colour));
}

// The public API, named after goworker's: register, work, enqueue, setSettings, init, close, namespace,
// redis. One default worker per program, like goworker's package-level functions; everything below it takes
// its dependencies explicitly.
import { availableParallelism } from "node:os";
import type { RedisClient } from "bun";
import { helpText, parseCommandLine, USAGE } from "./cli";
import { SettingsError } from "./errors";
import { makeKeys } from "./keys";
import { Launcher } from "./launcher";
import { createLogger } from "./logger";
import { openSharedClient, parseUri } from "./redis";
import { Registry, type JobFunction } from "./registry";
import { defaultSettings, validate, type Settings } from "./settings";
import { CHILD_ENV, selfCommand, supervise } from "./supervisor";
import { COMMIT, VERSION } from "./version";

export type { JobContext, JobFunction } from "./registry";
export type { Settings, LogFormat, LogLevel, DeadJobPolicy } from "./settings";
export { SettingsError, ConnectionError, MalformedPayloadError, UnknownJobError, JobTimeoutError, DuplicateJobError, RedisTimeoutError } from "./errors";
export { VERSION, COMMIT };

const registry = new Registry();
const argv = [...process.argv]; // copied before the procline overwrites the process's argv area
let overrides: Partial<Settings> = {};
let sharedClient: RedisClient | null = null;

/** Register the function that runs jobs of `className`. Registering a class twice throws DuplicateJobError. */
export function register<A extends unknown[]>(className: string, fn: JobFunction<A>): void {
  registry.register(className, fn);
}

/** The registered class names, sorted. */
export function registeredClasses(): string[] {
  return registry.classes();
}

/** Merge settings into the defaults used by init(), enqueue(), redis() and a work() called without settings. */
export function setSettings(partial: Partial<Settings>): void {
  overrides = { ...overrides, ...partial };
}

function settings(): Settings {
  return { ...defaultSettings(), ...overrides };
}

/** The key prefix in use, e.g. "resque:". */
export function namespace(): string {
  return settings().namespace;
}

/** Connect the shared client used by enqueue() and redis(). Rejects on an unreachable Redis. */
export async function init(): Promise<void> {
  if (sharedClient) return;
  const s = settings();
  sharedClient = await openSharedClient(parseUri(s.uri, s), s.commandTimeout * 1000);
}

/** The shared Redis client, for job code that wants the same Redis (goworker's GetConn). Call init() first. */
export function redis(): RedisClient {
  if (!sharedClient) throw new Error("bunworker: call init() (or work()) before redis()");
  return sharedClient;
}

export interface EnqueueOptions {
  queue: string;
  payload: { class: string; args?: unknown[]; [extra: string]: unknown };
}

/** What Resque.enqueue writes: SADD queues + RPUSH queue:<q> of {"class","args"} (extra keys kept). bigint args stay exact. */
export async function enqueue(job: EnqueueOptions): Promise<void> {
  if (!job.queue) throw new SettingsError("enqueue: queue is required");
  if (typeof job.payload?.class !== "string" || !job.payload.class) throw new SettingsError("enqueue: payload.class must be a non-empty string");
  await init();
  const keys = makeKeys(namespace());
  const { class: cls, args = [], ...extra } = job.payload;
  const raw = JSON.stringify({ class: cls, args, ...extra }, (_k, v: unknown) => (typeof v === "bigint" ? JSON.rawJSON(v.toString()) : v));
  const c = redis();
  await Promise.all([c.sadd(keys.queues, job.queue), c.rpush(keys.queue(job.queue), raw)]);
}

/** Close the shared client. */
export async function close(): Promise<void> {
  sharedClient?.close();
  sharedClient = null;
}

function exitWithUsage(e: unknown): never {
  process.stderr.write(`bunworker: ${(e as Error).message}\n${USAGE}\n`);
  process.exit(2);
}

/**
 * Run the worker until a signal (or, with exitOnComplete, until the queues are empty). Without `explicit`,
 * settings come from this program's command line and environment, so any file that registers jobs and calls
 * work() is a full worker CLI; bad flags then exit 2 with the usage line. Explicit bad settings reject.
 */
export async function work(explicit?: Partial<Settings>): Promise<void> {
  let s: Settings;
  if (explicit) s = { ...settings(), ...explicit };
  else {
    let line;
    try {
      line = parseCommandLine(argv.slice(2));
    } catch (e) {
      exitWithUsage(e);
    }
    if (line.action === "help") return void process.stdout.write(`${await helpText()}\n`);
    if (line.action === "version") return void process.stdout.write(`bunworker ${VERSION} (${COMMIT})\n`);
    if (line.action === "list-jobs") return void process.stdout.write(registry.classes().map((c) => `${c}\n`).join(""));
    s = { ...settings(), ...line.settings };
    try {
      validate(s);
      parseUri(s.uri, s);
    } catch (e) {
      exitWithUsage(e);
    }
  }
  const log = createLogger(s.logLevel, s.logFormat);
  const processes = s.processes === "auto" ? availableParallelism() : s.processes;
  if (processes > 1 && !process.env[CHILD_ENV]) {
    validate(s);
    const code = await supervise(processes, selfCommand(argv, process.execPath), log, s.exitOnComplete);
    if (code !== 0) throw new Error(`supervisor exited with status ${code}`);
    return;
  }
  const launcher = new Launcher(s, registry, log);
  setSettings(s);
  const uninstall = installSignals(launcher, log);
  try {
    await launcher.run(() => init());
  } finally {
    uninstall();
  }
}

// A child of --processes gets a group-wide signal twice: once from the terminal, systemd or Heroku (which
// signal the whole process group) and once forwarded by the supervisor. Within this window the copy is not
// a "second signal", or a plain Ctrl-C would hand running jobs back instead of letting them finish.
const DUPLICATE_SIGNAL_MS = 1000;

function installSignals(launcher: Launcher, log: ReturnType<typeof createLogger>): () => void {
  let stops = 0;
  let lastStop = 0;
  const supervised = Boolean(process.env[CHILD_ENV]);
  const stop = (sig: string) => () => {
    if (supervised && stops > 0 && Date.now() - lastStop < DUPLICATE_SIGNAL_MS) return;
    lastStop = Date.now();
    stops++;
    log.info(`${sig} received${stops > 1 ? " again: handing running jobs back now" : ""}`);
    launcher.stop(stops > 1 ? "now" : "graceful");
  };
  const handlers: [string, (...a: unknown[]) => void][] = [
    ["SIGTERM", stop("TERM")], ["SIGINT", stop("INT")], ["SIGQUIT", stop("QUIT")],
    ["SIGUSR2", () => (log.info("USR2 received: pausing (CONT resumes)"), launcher.hold(true))],
    ["SIGCONT", () => (log.info("CONT received: resuming"), launcher.hold(false))],
    // Hostile job code must not take the worker down (issue #4): report and keep running.
    ["unhandledRejection", (r: unknown) => log.warn(`unhandled rejection in job code: ${r instanceof Error ? `${r.name}: ${r.message}` : String(r)}`)],
    ["uncaughtException", (e: unknown) => log.error(`uncaught exception in job code: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`)],
  ];
  for (const [ev, h] of handlers) process.on(ev as "SIGTERM", h);
  return () => {
    for (const [ev, h] of handlers) process.off(ev as "SIGTERM", h);
  };
}

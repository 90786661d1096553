// From a program's start to its worker running (goworker's Work()):
// 1. read the command line and environment (cli.ts), or take explicit settings from work(settings);
// 2. resolve them once into a Config (config.ts): bad flags exit 2 with the usage line, bad explicit
//    settings reject with SettingsError;
// 3. set the procline at once, before anything waits: it replaces the argv that `ps` shows, and a --uri there
//    may carry a password;
// 4. with --processes > 1, supervise that many copies of this program (supervisor.ts); otherwise launch one
//    worker process (launcher.ts) with the signal handlers installed (signals.ts).
// In the command-line mode any failure after that is one line `bunworker: <message>` and exit status 1, as
// for a program that calls work() at top level without try/catch.
import { helpText, parseCommandLine, USAGE, withoutFlag, type OperatorFlags } from "./cli";
import { isSubcommand } from "./commands/names";
import { resolveConfig, type Config } from "./config";
import { Launcher, type JobExtras, type StopMode } from "./launcher";
import { checkOperatorFlags, startOperatorSide } from "./operator";
import { setProcline, supervisorTitle, workerTitle } from "./procline";
import { RedisConn } from "./redis";
import type { Registry } from "./registry";
import type { Schedule } from "./schedule";
import { backoffMs, sleep } from "./retry";
import { defaultSettings, type Settings } from "./settings";
import { installSignals, type Stoppable } from "./signals";
import { CHILD_ENV, commandLineChildren, selfCommand, supervise, takeInheritedUri, type ChildLaunch } from "./supervisor";
import { COMMIT, VERSION } from "./version";

/** What a program that calls work() brings: its jobs, its setSettings() overrides, the shared client's hook. */
export interface Program {
  registry: Registry;
  /** use()d middleware and onStart/onStop hooks. */
  extras?: JobExtras;
  /** setSettings() overrides, applied over the defaults and under the command line or explicit settings. */
  base: Partial<Settings>;
  /** argv as the program started, before the procline overwrote it. */
  argv: readonly string[];
  /** Runs once Redis answers, before the first job: connects the client job code reaches through redis(). */
  beforeJobs(config: Config): Promise<void>;
}

function exitWithUsage(e: unknown): never {
  process.stderr.write(`bunworker: ${oneLine(e)}\n${USAGE}\n`);
  process.exit(2);
}

function exitWithError(e: unknown): never {
  process.stderr.write(`bunworker: ${oneLine(e)}\n`);
  process.exit(1);
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, " ");
}

/** work() without settings: the command line decides; flags that are wrong exit 2 with the usage line. */
export async function runCommandLine(program: Program): Promise<void> {
  // `bunworker info|queues|workers|failed|enqueue|delayed|web ...`: operator commands; flags alone are the worker.
  if (isSubcommand(program.argv.slice(2))) {
    const { runSubcommand } = await import("./commands/dispatch");
    const code = await runSubcommand(program.argv.slice(2));
    if (code !== 0) process.exit(code);
    return;
  }
  let config: Config;
  let settings: Settings;
  let operator: OperatorFlags | undefined;
  try {
    const line = parseCommandLine(program.argv.slice(2));
    if (line.action === "help") return void process.stdout.write(`${await helpText()}\n`);
    if (line.action === "version") return void process.stdout.write(`bunworker ${VERSION} (${COMMIT})\n`);
    if (line.action === "list-jobs") return void process.stdout.write(program.registry.classes().map((c) => `${c}\n`).join(""));
    const inherited = takeInheritedUri();
    settings = { ...defaultSettings(), ...program.base, ...(inherited === undefined ? {} : { uri: inherited }), ...line.settings };
    config = resolveConfig(settings);
    operator = line.operator;
    checkOperatorFlags(operator, config.processes);
  } catch (e) {
    exitWithUsage(e);
  }
  try {
    // The supervisor serves the dashboard; its children run without --web (operator.ts).
    const childArgv = [...program.argv.slice(0, 2), ...withoutFlag(withoutFlag(program.argv.slice(2), "web"), "web-token")];
    await launchOrSupervise(config, program, commandLineChildren(childArgv, process.execPath, settings.uri), operator);
  } catch (e) {
    exitWithError(e);
  }
}

/** work(settings): explicit settings; a bad one rejects with SettingsError. */
export async function runWithSettings(explicit: Partial<Settings>, program: Program): Promise<void> {
  const config = resolveConfig({ ...defaultSettings(), ...program.base, ...explicit });
  // The program's argv is its own, not bunworker's flags: children get it unchanged and take their settings
  // from the same work(settings) call.
  await launchOrSupervise(config, program, { cmd: selfCommand(program.argv, process.execPath), env: {} });
}

async function launchOrSupervise(config: Config, program: Program, children: ChildLaunch, operator?: OperatorFlags): Promise<void> {
  const supervised = Boolean(process.env[CHILD_ENV]);
  if (config.processes > 1 && !supervised) {
    setProcline(supervisorTitle(config));
    const side = await startOperatorSide(config, operator, { dashboard: true, metrics: false }, [...config.schedules, ...(program.extras?.schedules ?? [])]);
    try {
      const code = await supervise(config.processes, children, config.log, { exitOnComplete: config.exitOnComplete });
      if (code !== 0) throw new Error(`supervisor exited with status ${code}`);
    } finally {
      side.stop();
    }
    return;
  }
  setProcline(workerTitle(config));
  await launch(config, program, supervised, operator);
}

/** A stop requested before the worker registered: nothing to hand back, so it just ends. */
class StoppedBeforeStart extends Error {}

async function launch(config: Config, program: Program, supervised: boolean, operator?: OperatorFlags): Promise<void> {
  const side = await startOperatorSide(config, operator, { dashboard: true, metrics: true }, [...config.schedules, ...(program.extras?.schedules ?? [])]);
  const launcher = new Launcher(config, program.registry, { ...program.extras, observer: side.observer });
  const starting = new AbortController();
  const target: Stoppable = {
    stop: (mode: StopMode) => {
      starting.abort();
      launcher.stop(mode);
    },
    hold: (held) => launcher.hold(held),
    uncaught: (e) => launcher.uncaught(e),
  };
  const uninstall = installSignals(target, config.log, supervised);
  try {
    await launcher.run(() => Promise.all([waitUntilWritable(config, starting.signal), program.beforeJobs(config)]).then(() => {}));
  } catch (e) {
    if (!(e instanceof StoppedBeforeStart)) throw e;
    config.log.info("stopped before start-up finished: nothing was registered");
  } finally {
    starting.abort(); // a write-probe wait still running when the key checks failed ends too
    uninstall();
    side.stop();
  }
}

/** Redis's reply when it is at maxmemory and will not evict (noeviction, or nothing left to evict). */
const isOutOfMemory = (e: unknown): boolean => /^OOM\b/.test(e instanceof Error ? e.message : "");

// A script that does not declare `no-writes` is refused up front at maxmemory (Redis 7+), exactly as a write
// would be, and writes nothing: it asks "would you take a write now?" without making one.
const WRITE_PROBE = ["#!lua\nreturn 1", "0"];

/** The OOM reply to the probe, or null for any other outcome. */
function outOfMemory(conn: RedisConn): Promise<Error | null> {
  return conn.run((c) => c.send("EVAL", WRITE_PROBE), "write probe").then(
    () => null,
    (e: unknown) => (isOutOfMemory(e) ? (e as Error) : null),
  );
}

/**
 * Out of memory is a passing state (keys expire, consumers drain queues, an operator raises maxmemory), so a
 * worker started then waits to register rather than failing: one warning, then retries with backoff until
 * Redis takes writes, or a stop signal ends the wait. Any other answer (an older Redis that cannot read the
 * probe, a lost connection) ends the wait at once: registration reports real problems itself.
 */
async function waitUntilWritable(config: Config, stop: AbortSignal): Promise<void> {
  const conn = new RedisConn(config.target, config.commandTimeoutMs, "write probe");
  const since = Date.now();
  try {
    for (let attempt = 0; ; attempt++) {
      const oom = await outOfMemory(conn);
      if (!oom && attempt > 0) config.log.info(`Redis at ${config.target.display} takes writes again after ${((Date.now() - since) / 1000).toFixed(1)} s`);
      if (!oom) return;
      if (attempt === 0) config.log.warn(`Redis at ${config.target.display} is out of memory (${oom.message}); waiting with backoff until it takes writes, then starting`);
      await sleep(backoffMs(attempt, Math.random()), stop);
      if (stop.aborted) throw new StoppedBeforeStart();
    }
  } finally {
    conn.close();
  }
}

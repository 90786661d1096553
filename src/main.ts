// From a program's start to its worker running (goworker's Work()):
// 1. read the command line and environment (cli.ts), or take explicit settings from work(settings);
// 2. resolve them once into a Config (config.ts): bad flags exit 2 with the usage line, bad explicit
//    settings reject with SettingsError;
// 3. with --processes > 1, supervise that many copies of this program (supervisor.ts); otherwise launch one
//    worker process (launcher.ts) with the signal handlers installed (signals.ts).
import { helpText, parseCommandLine, USAGE } from "./cli";
import { resolveConfig, type Config } from "./config";
import { Launcher } from "./launcher";
import type { Registry } from "./registry";
import { defaultSettings, type Settings } from "./settings";
import { installSignals } from "./signals";
import { CHILD_ENV, selfCommand, supervise } from "./supervisor";
import { COMMIT, VERSION } from "./version";

/** What a program that calls work() brings: its jobs, its setSettings() overrides, the shared client's hook. */
export interface Program {
  registry: Registry;
  /** setSettings() overrides, applied over the defaults and under the command line or explicit settings. */
  base: Partial<Settings>;
  /** argv as the program started, before the procline overwrote it. */
  argv: readonly string[];
  /** Runs once Redis answers, before the first job: connects the client job code reaches through redis(). */
  beforeJobs(config: Config): Promise<void>;
}

function exitWithUsage(e: unknown): never {
  process.stderr.write(`bunworker: ${(e as Error).message}\n${USAGE}\n`);
  process.exit(2);
}

/** work() without settings: the command line decides; flags that are wrong exit 2 with the usage line. */
export async function runCommandLine(program: Program): Promise<void> {
  let config: Config;
  try {
    const line = parseCommandLine(program.argv.slice(2));
    if (line.action === "help") return void process.stdout.write(`${await helpText()}\n`);
    if (line.action === "version") return void process.stdout.write(`bunworker ${VERSION} (${COMMIT})\n`);
    if (line.action === "list-jobs") return void process.stdout.write(program.registry.classes().map((c) => `${c}\n`).join(""));
    config = resolveConfig({ ...defaultSettings(), ...program.base, ...line.settings });
  } catch (e) {
    exitWithUsage(e);
  }
  await launchOrSupervise(config, program);
}

/** work(settings): explicit settings; a bad one rejects with SettingsError. */
export async function runWithSettings(explicit: Partial<Settings>, program: Program): Promise<void> {
  await launchOrSupervise(resolveConfig({ ...defaultSettings(), ...program.base, ...explicit }), program);
}

async function launchOrSupervise(config: Config, program: Program): Promise<void> {
  const supervised = Boolean(process.env[CHILD_ENV]);
  if (config.processes > 1 && !supervised) {
    const code = await supervise(config.processes, selfCommand(program.argv, process.execPath), config.log, config.exitOnComplete);
    if (code !== 0) throw new Error(`supervisor exited with status ${code}`);
    return;
  }
  const launcher = new Launcher(config, program.registry);
  const uninstall = installSignals(launcher, config.log, supervised);
  try {
    await launcher.run(() => program.beforeJobs(config));
  } finally {
    uninstall();
  }
}

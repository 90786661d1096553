// A worker inside the test process (Launcher with its own registry), for tests that inspect Redis while jobs
// run. Child-process tests use worker-process.ts instead.
import { createConsola } from "consola/core";
import { resolveConfig, type Clock } from "../../src/config";
import { Launcher, type JobExtras } from "../../src/launcher";
import { Registry } from "../../src/registry";
import { defaultSettings, type Settings } from "../../src/settings";
import { REDIS_URL } from "./redis";

export interface InProcessWorker {
  launcher: Launcher;
  done: Promise<void>;
  logs: string[];
}

export function startWorker(registry: Registry, settings: Partial<Settings>, extras?: JobExtras, clock?: Clock): InProcessWorker {
  const logs: string[] = [];
  const log = createConsola({ level: 4, reporters: [{ log: (o) => void logs.push(`${o.type}: ${o.args.map((a) => (a && typeof a === "object" && !(a instanceof Error) ? JSON.stringify(a) : String(a))).join(" ")}`) }] });
  const config = resolveConfig({ ...defaultSettings({}), uri: REDIS_URL, heartbeatInterval: 0.5, deadAfter: 5, commandTimeout: 2, ...settings }, { log, clock });
  const launcher = new Launcher(config, registry, extras);
  return { launcher, done: launcher.run(), logs };
}

export function registryWith(jobs: Record<string, (queue: string, ...args: never[]) => unknown>): Registry {
  const r = new Registry();
  for (const [name, fn] of Object.entries(jobs)) r.register(name, fn as never);
  return r;
}

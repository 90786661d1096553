// Scenario "startup" (issue #5): exec -> the worker's first fetch, as MONITOR timestamps it, --startup-runs
// times each for `bun worker.ts` and the compiled binary (--binary; a "skipped" row when it is absent), or
// for the --worker-cmd itself. Reports the median and the first command of any kind (the connect).
import { existsSync } from "node:fs";
import type { Harness } from "../harness/harness";
import { Monitor, type MonitorLine } from "../harness/monitor";
import { NS, ROOT } from "../harness/options";
import { workerName } from "../harness/results";
import { median, round } from "../harness/stats";
import { log, within } from "../harness/util";
import { stopWorker, tail } from "../harness/workers";

/**
 * The fetch script's SHA, found by name so that renaming its entry in `scripts` does not break the bench; imported
 * here, not at load, so that the other scenarios still run (e.g. against a --worker-cmd) when src/ does not load.
 */
async function cycleSha(): Promise<string> {
  const { scripts } = await import("../../../src/scripts");
  const cycle = Object.values(scripts).find((s) => /cycle/.test(s.name));
  if (!cycle) throw new Error("startup: src/scripts.ts has no fetch (cycle) script");
  return cycle.sha;
}

/** The worker's first fetch: bunworker's cycle script, or for any other worker the first pop or script that names a queue key. */
async function fetchMatcher(argv: string[] | undefined): Promise<(l: MonitorLine) => boolean> {
  if (argv !== undefined) {
    const sha = await cycleSha();
    return (l) => (l.command === "EVALSHA" && l.rest.startsWith(` "${sha}"`)) || (l.command === "EVAL" && l.rest.includes("fetch lane"));
  }
  return (l) => /^(LPOP|RPOP|BLPOP|BRPOP|LMOVE|BLMOVE|RPOPLPUSH|BRPOPLPUSH|LMPOP|BLMPOP|EVALSHA|EVAL|FCALL)$/.test(l.command) && l.rest.includes(`${NS}queue:`);
}

interface Times {
  firstCmd: number[];
  firstFetch: number[];
}

/** What every start of one command shares. */
interface Starts {
  mon: Monitor;
  /** The harness's own address, left out of MONITOR lines. */
  me: string;
  label: string;
  argv: string[] | undefined;
  isFetch: (l: MonitorLine) => boolean;
}

/** One start: ends at the fetch, after 15 s, or when the worker exits (a worker that fails to start). */
async function oneStart(h: Harness, { mon, me, label, argv, isFetch }: Starts, times: Times): Promise<void> {
  const fromWorker = (l: MonitorLine) => l.addr !== me && l.addr !== "lua" && isFetch(l);
  mon.lines = [];
  const w = h.workers.spawn({ queues: ["startup"], concurrency: 25, argv }, label);
  try {
    const fetch = await Promise.race([mon.waitFor(fromWorker, 15_000), w.exited.then(() => within(mon.waitFor(fromWorker, 0), 0))]);
    if (!fetch) throw new Error(`${label}: no fetch seen (${w.exitedAt !== null ? `the worker exited with status ${w.code}` : "15 s"}):\n${tail(w)}`);
    const first = mon.lines.find((l) => l.addr !== me && l.addr !== "lua" && l.ts >= w.spawnedAt - 5);
    times.firstFetch.push(fetch.ts - w.spawnedAt);
    if (first) times.firstCmd.push(first.ts - w.spawnedAt);
  } finally {
    await stopWorker(w);
  }
}

function startupRow(h: Harness, label: string, command: string, { firstCmd, firstFetch }: Times) {
  const p50 = median(firstFetch);
  return {
    scenario: `startup:${label}`,
    worker: workerName(h.opts),
    command,
    runs: firstFetch.length,
    startup_ms: round(p50, 1),
    first_fetch_p50_ms: round(p50, 1),
    first_fetch_min_ms: round(Math.min(...firstFetch), 1),
    first_fetch_max_ms: round(Math.max(...firstFetch), 1),
    first_command_p50_ms: round(median(firstCmd), 1),
    note: "exec -> first fetch (the cycle EVALSHA) as MONITOR timestamps it; first_command = first command of any kind (connect)",
  };
}

async function startupOf(h: Harness, label: string, argv: string[] | undefined, command: string): Promise<void> {
  const isFetch = await fetchMatcher(argv);
  const times: Times = { firstCmd: [], firstFetch: [] };
  const mon = new Monitor();
  await mon.open(h.redis.port);
  try {
    const me = await h.redis.ownAddr();
    await h.redis.cmd("FLUSHALL");
    await h.redis.cmd("SADD", [`${NS}queues`, "startup"]);
    for (let i = 0; i < h.opts.startupRuns; i++) await oneStart(h, { mon, me, label, argv, isFetch }, times);
  } finally {
    mon.close();
  }
  h.results.emit(startupRow(h, label, command, times));
}

export async function startup(h: Harness): Promise<void> {
  const { opts } = h;
  const flags = ["--queues=startup", `--uri=${h.redis.uri}`, "--log-level=warn"];
  if (opts.workerCmd !== undefined) {
    log(`startup: ${opts.startupRuns} starts of the --worker-cmd`);
    await startupOf(h, "custom", undefined, opts.workerCmd);
    return;
  }
  log(`startup: ${opts.startupRuns} starts of bun worker.ts`);
  await startupOf(h, "source", [process.execPath, `${ROOT}worker.ts`, ...flags], "bun worker.ts");
  if (existsSync(opts.binary)) {
    log(`startup: ${opts.startupRuns} starts of ${opts.binary}`);
    await startupOf(h, "binary", [opts.binary, ...flags], opts.binary);
  } else {
    h.results.emit({ scenario: "startup:binary", worker: workerName(opts), command: opts.binary, skipped: `${opts.binary} does not exist (build it with \`bun run build\`)` });
  }
}

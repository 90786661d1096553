// The benchmark of issue #5: `bun run bench [--quick] [--scenarios=a,b] [--worker-cmd '<command>']`.
// It starts its own redis-server on a free port of 127.0.0.1 (no persistence), runs the REAL worker CLI as a
// child process (test/bench/bench-worker.ts by default, or any Resque-compatible worker via --worker-cmd),
// and prints one JSON line per result on stdout, then a markdown table. Progress goes to stderr.
// Every wait is bounded; the redis-server and every worker (with its whole process group) are killed on
// the way out, also after an error, SIGINT/SIGTERM or the global --timeout.
// This is not a test: it is not named *.test.ts and `bun test` does not run it. Run `bun run bench --help`.
// This file is the entry: options, the scenario loop, the table and cleanup. The shared harness lives in
// harness/ (options, Redis, workers, results, pickup and idle measurements), one module per scenario in
// scenarios/.
import { measureBaseline } from "./harness/baseline";
import { closeHarness, openHarness, type Harness } from "./harness/harness";
import { BENCH_WORKER, HELP, parseOptions, ROOT, type Options, type ScenarioName } from "./harness/options";
import { Results, table, workerName } from "./harness/results";
import { log } from "./harness/util";
import { cycle } from "./scenarios/cycle";
import { delayed } from "./scenarios/delayed";
import { drain } from "./scenarios/drain";
import { enqueue } from "./scenarios/enqueue";
import { latency } from "./scenarios/latency";
import { memory } from "./scenarios/memory";
import { processes } from "./scenarios/processes";
import { queues } from "./scenarios/queues";
import { slots } from "./scenarios/slots";
import { startup } from "./scenarios/startup";

const RUNNERS: Record<ScenarioName, (h: Harness) => Promise<void>> = { cycle, drain, latency, queues, slots, processes, startup, memory, enqueue, delayed };

/** The one harness of this run, for cleanup from signal handlers and the watchdog. */
let harness: Harness | null = null;
let interrupted = false;
let cleaning: Promise<void> | null = null;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    const h = harness;
    harness = null;
    if (h) await closeHarness(h);
  })();
  return cleaning;
}

/** Options, or the exit code when there is nothing to run (--help, a bad option). */
function options(): Options | number {
  try {
    const opts = parseOptions(process.argv.slice(2));
    if (opts !== "help") return opts;
    process.stdout.write(HELP + "\n");
    return 0;
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    return 2;
  }
}

/** Runs the scenarios in order; a failed one becomes an error row and its workers are killed. Returns the failures. */
async function runScenarios(h: Harness): Promise<number> {
  let failures = 0;
  for (const s of h.opts.scenarios) {
    if (interrupted) break;
    const t0 = Date.now();
    try {
      await RUNNERS[s](h);
      log(`${s}: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    } catch (e) {
      if (interrupted) break;
      failures++;
      log(`${s} failed: ${(e as Error).message}`);
      h.results.emit({ scenario: s, worker: workerName(h.opts), error: (e as Error).message.split("\n")[0] as string });
      h.workers.killAll();
    }
  }
  return failures;
}

/** The Redis floor of the day (harness/baseline.ts), as a row; the first one is what later rows are compared with. */
async function baselineRow(h: Harness, scenario: string): Promise<void> {
  log(`${scenario}: un-pipelined LPOP rate, PING / EVALSHA round trips, two-hop notification floor`);
  const b = await measureBaseline(h.redis);
  h.results.baseline ??= b;
  h.results.emit({ scenario, worker: "redis-server", ...b });
}

async function main(): Promise<number> {
  const o = options();
  if (typeof o === "number") return o;
  const watchdog = setTimeout(() => {
    log(`giving up after --timeout=${o.timeoutS} s`);
    void cleanup().then(() => process.exit(1));
  }, o.timeoutS * 1000);
  try {
    const h = (harness = await openHarness(o, new Results()));
    log(`redis-server on 127.0.0.1:${h.redis.port}; worker: ${o.workerCmd ?? `bun ${BENCH_WORKER.slice(ROOT.length)}`}`);
    const started = Date.now();
    await baselineRow(h, "baseline");
    const failures = await runScenarios(h);
    if (!interrupted) await baselineRow(h, "baseline:end");
    log(`finished in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    process.stdout.write("\n" + table(h.results.list) + "\n");
    return failures ? 1 : 0;
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }
}

for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    interrupted = true;
    log(`${sig}: cleaning up`);
    void cleanup().then(() => process.exit(130));
  });
}

main().then(
  async (code) => {
    await cleanup();
    process.exit(code);
  },
  async (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
    await cleanup();
    process.exit(1);
  },
);

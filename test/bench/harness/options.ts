// Command-line options of the benchmark (`bun run bench --help` prints HELP) and the constants every module
// shares: the repository root, the default worker program and the Resque namespace. Kept apart from the
// entry so that scenarios can read their settings without importing main.
import { parseArgs } from "node:util";

export const ROOT = new URL("../../..", import.meta.url).pathname;
export const BENCH_WORKER = `${ROOT}test/bench/bench-worker.ts`;
export const NS = "resque:";
export const ALL = ["drain", "latency", "queues", "slots", "processes", "startup"] as const;
export type ScenarioName = (typeof ALL)[number];

export const HELP = `bun run bench [options]

Starts a private redis-server on a free port of 127.0.0.1 (no persistence) and runs the worker CLI as a
child process against it. Prints one JSON line per result on stdout, then a markdown table with targets.

Scenarios (all by default, in this order):
  drain      200,000 pre-filled no-op jobs ({"class":"Noop","args":[]}) in queue "bench", --concurrency=25
             --exit-on-complete: jobs/s, worker and Redis CPU per job, Redis commands per job, peak RSS
  latency    idle worker on lat1,lat2,lat3 (--concurrency=25): one "Stamp" job at a time, ~300 ms apart,
             pickup p50/p99 on the first and the last queue; then Redis commands/s over 10 s of idleness
  queues     1,000 empty queues q0000..q0999 in resque:queues, one idle worker on --queues=* (--concurrency=25,
             --interval=1): Redis connections it holds, Redis commands/s over the idle window, and Stamp pickup
             p50/p99 on the first, middle and last queue (q0000, q0500, q0999; each wait capped at
             2 × interval + 5 s) and spread (each job on a random queue, then the connections held);
             again with notify-keyspace-events El (queues:notify); and connections and
             idle commands/s of a worker on --queues=q0000,q0001,q0002 for reference (queues:3)
  slots      --concurrency=1000, "Sleep" 50 ms jobs: 30,000 jobs (bound 20,000 jobs/s); --slots-concurrency
             runs it at other concurrencies (jobs: 200 per slot, 60 with --quick, at most 30,000 / 10,000;
             bound: slots / 50 ms)
  processes  "Cpu" 2 ms jobs, 2,000 jobs, --processes=1 vs --processes=2: jobs/s and the ratio
  startup    exec to first fetch (cycle EVALSHA seen by MONITOR), 10 runs, median: \`bun worker.ts\` and the
             compiled binary (--binary, default dist/bunworker; skipped with a note when absent)

Options:
  --scenarios=a,b        scenarios to run (${ALL.join(",")})
  --quick                smaller counts: drain 50,000, slots 10,000, processes 1,000, 50 pickups per queue,
                         5 start-ups
  --worker-cmd='<cmd>'   run this command (through sh -c, in its own process group) instead of the default
                         worker; the harness appends NOTHING. Placeholders substituted into the string:
                           {uri} redis://127.0.0.1:<port>/   {host} 127.0.0.1   {port} <port>
                           {queues} comma-separated queue list   {concurrency} slots   {processes} processes
                           {interval} seconds between polls (1 in the queues scenario, 5 elsewhere)
                         The worker must use the "resque:" namespace, increment resque:stat:processed and
                         know the classes Noop, Sleep(ms), Cpu(ms), Stamp(sentEpochMs, resultKey) (Stamp
                         RPUSHes to resultKey the difference, in ms, between its clock on arrival and
                         sentEpochMs, both as performance.timeOrigin + performance.now()). It need not exit by
                         itself: 3 s after the last job it gets SIGTERM. "processes" is skipped unless
                         the command contains {processes}; "startup" measures the command itself; without
                         {interval}, "queues" assumes the worker polls every 5 s. Quote {queues} ('{queues}')
                         if the shell could expand "*". Prefer "cd dir && exec cmd" so that SIGTERM reaches
                         the worker and its CPU time is counted.
  --binary=<path>        compiled worker for the startup scenario (default dist/bunworker)
  --worker-args='<flags>' extra flags for the default worker, e.g. --worker-args='--min-replicas=1' (also
                         $BENCH_WORKER_ARGS); ignored with --worker-cmd
  --replicas=<n>         start n replicas of the private redis-server (for --worker-args='--min-replicas=n');
                         Redis CPU fields count the primary only
  --slots-concurrency=<n,n>  the slots scenario's --concurrency values (default 1000), e.g. 5,25,1000
  --samples=<n>          pickups per measured queue (default 200, quick 50)
  --gap-ms=<ms>          idle time before each pickup (default 300)
  --idle-seconds=<s>     length of the idle-traffic window (default 60)
  --startup-runs=<n>     start-ups per command (default 10, quick 5)
  --repeat=<n>           runs of each throughput measurement (drain, slots, processes); the run with the
                         median jobs/s is reported, with the spread (default 3, quick 1)
  --timeout=<s>          give up on the whole benchmark after this many seconds (default 1200)
  --help                 this text

Fields: seconds = first job taken -> worker exit (exit-on-complete), or -> last job processed when the worker
does not exit by itself; seconds_from_spawn = spawn -> same end; worker_cpu_us_per_job = user+system time
of the worker process tree (wait4 rusage, children included) / jobs; redis_cpu_us_per_job = INFO cpu
used_cpu_user+used_cpu_sys delta / jobs; redis_cmds_per_job = INFO stats total_commands_processed delta
(commands run inside Lua scripts included, the harness's own commands excluded) / jobs; evalsha_per_job =
EVALSHA+EVAL calls / jobs; peak_rss_mb = wait4 maxrss of the worker process tree; connections = CLIENT LIST
entries minus the harness's own (named bench-*) and MONITOR connections.`;

export interface Options {
  scenarios: ScenarioName[];
  quick: boolean;
  workerCmd: string | undefined;
  binary: string;
  samples: number;
  gapMs: number;
  idleSeconds: number;
  startupRuns: number;
  repeat: number;
  timeoutS: number;
  workerArgs: string[];
  slotsConcurrency: number[];
  replicas: number;
}

type Values = Record<string, string | boolean | undefined>;

function readArgs(argv: string[]): Values {
  const str = { type: "string" } as const;
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      scenarios: str, quick: { type: "boolean" }, "worker-cmd": str, binary: str, samples: str, "gap-ms": str,
      "idle-seconds": str, "startup-runs": str, repeat: str, timeout: str, help: { type: "boolean", short: "h" },
      "worker-args": str, "slots-concurrency": str, replicas: str,
    },
  });
  return values;
}

function num(name: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got "${v}"`);
  return n;
}

function scenarioList(v: string | undefined): ScenarioName[] {
  const scenarios = (v ?? ALL.join(",")).split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of scenarios) if (!(ALL as readonly string[]).includes(s)) throw new Error(`unknown scenario "${s}" (known: ${ALL.join(", ")})`);
  return ALL.filter((s) => scenarios.includes(s));
}

export function parseOptions(argv: string[]): Options | "help" {
  const values = readArgs(argv);
  if (values.help) return "help";
  const quick = values.quick === true;
  const s = (k: string) => values[k] as string | undefined;
  return {
    scenarios: scenarioList(s("scenarios")),
    quick,
    workerCmd: s("worker-cmd"),
    binary: s("binary") ?? `${ROOT}dist/bunworker`,
    samples: Math.floor(num("samples", s("samples"), quick ? 50 : 200, 1)),
    gapMs: num("gap-ms", s("gap-ms"), 300, 0),
    idleSeconds: num("idle-seconds", s("idle-seconds"), 60, 1),
    startupRuns: Math.floor(num("startup-runs", s("startup-runs"), quick ? 5 : 10, 1)),
    repeat: Math.floor(num("repeat", s("repeat"), quick ? 1 : 3, 1)),
    timeoutS: num("timeout", s("timeout"), 1200, 10),
    workerArgs: [s("worker-args") ?? "", process.env.BENCH_WORKER_ARGS ?? ""].join(" ").split(" ").filter(Boolean),
    replicas: Math.floor(num("replicas", s("replicas"), 0, 0)),
    slotsConcurrency: (s("slots-concurrency") ?? "1000").split(",").map((v) => Math.floor(num("slots-concurrency", v, 1000, 1))),
  };
}

// Scenario "processes" (issue #5): CPU-bound "Cpu" 2 ms jobs with --processes=1 and --processes=2, compared
// first job -> last job processed (a supervisor need not exit by itself); the second row carries the ratio.
// Skipped for a --worker-cmd without a {processes} placeholder.
import type { Harness } from "../harness/harness";
import { workerName, type Result } from "../harness/results";
import { round } from "../harness/stats";
import { log } from "../harness/util";
import { repeated } from "./throughput";

export async function processes(h: Harness): Promise<void> {
  const { opts } = h;
  if (opts.workerCmd !== undefined && !opts.workerCmd.includes("{processes}")) {
    h.results.emit({ scenario: "processes", worker: workerName(opts), skipped: "the --worker-cmd has no {processes} placeholder" });
    return;
  }
  const jobs = opts.quick ? 1000 : 2000;
  const runs: Result[] = [];
  for (const p of [1, 2]) {
    log(`processes: ${jobs} CPU-bound jobs of 2 ms, --processes=${p}`);
    // Compared first job -> last job processed: a supervisor need not exit by itself.
    const processing = (r: Result) => Math.round(jobs / (r.seconds_processing as number));
    const r = await repeated(h, { scenario: `processes:${p}`, queue: "bench", jobs, payload: '{"class":"Cpu","args":[2]}', concurrency: 25, processes: p, timeoutMs: 120_000 }, processing);
    r.jobs_per_s_processing = processing(r);
    runs.push(r);
  }
  const [one, two] = runs as [Result, Result];
  two.speedup_vs_1 = round((two.jobs_per_s_processing as number) / (one.jobs_per_s_processing as number), 2);
  h.results.emit(one);
  h.results.emit(two);
}

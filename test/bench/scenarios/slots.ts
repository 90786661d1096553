// Scenario "slots" (issues #5, #14): many slots waiting at once. Slots run 50 ms "Sleep" jobs, so the bound
// is slots / 50 ms (20,000 jobs/s for the default 1,000 slots); the result is how close the worker gets to it.
// --slots-concurrency runs it at several concurrencies (issue #14: within 5 % of the bound at 5, 25, 1,000).
// 200 jobs per slot at every concurrency: a run of fewer waves (1,000 slots once had 30) is mostly its ramp
// and exit (~20-30 ms each), which the steady rate (10 -> 90 % of the jobs) shows apart.
import type { Harness } from "../harness/harness";
import { round } from "../harness/stats";
import { log } from "../harness/util";
import { repeated } from "./throughput";

export async function slots(h: Harness): Promise<void> {
  for (const concurrency of h.opts.slotsConcurrency) {
    const max = h.opts.quick ? 10_000 : 200_000;
    const jobs = Math.min(max, concurrency * (h.opts.quick ? 60 : 200));
    const bound = concurrency * 20;
    log(`slots: ${jobs} jobs of 50 ms, --concurrency=${concurrency}`);
    const r = await repeated(h, { scenario: "slots", queue: "bench", jobs, payload: '{"class":"Sleep","args":[50]}', concurrency, processes: 1, timeoutMs: 300_000 });
    const steady = r.steady_jobs_per_s as number | null;
    h.results.emit({ ...r, bound_jobs_per_s: bound, of_bound: round((r.jobs_per_s as number) / bound, 3), of_bound_steady: steady === null ? null : round(steady / bound, 3) });
  }
}

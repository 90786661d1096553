// Scenario "slots" (issue #5): many slots waiting at once. 1,000 slots run 50 ms "Sleep" jobs, so the
// bound is 20,000 jobs/s; the result is how close the worker gets to it.
import type { Harness } from "../harness/harness";
import { round } from "../harness/stats";
import { log } from "../harness/util";
import { repeated } from "./throughput";

export async function slots(h: Harness): Promise<void> {
  const jobs = h.opts.quick ? 10_000 : 30_000;
  log(`slots: ${jobs} jobs of 50 ms, --concurrency=1000`);
  const r = await repeated(h, { scenario: "slots", queue: "bench", jobs, payload: '{"class":"Sleep","args":[50]}', concurrency: 1000, processes: 1, timeoutMs: 300_000 });
  h.results.emit({ ...r, bound_jobs_per_s: 20_000, of_bound: round((r.jobs_per_s as number) / 20_000, 3) });
}

// Scenario "memory" (issue #15): the drain with 1,000,000 jobs, so that memory that grows with the number of
// jobs shows: peak RSS (VmHWM) at 20 % of the run and at its end must match. Long (about a minute with the
// prefill), so it runs only with --all or --scenarios=memory.
import type { Harness } from "../harness/harness";
import { log } from "../harness/util";
import { repeated } from "./throughput";

export async function memory(h: Harness): Promise<void> {
  const jobs = 1_000_000;
  log(`memory: ${jobs} no-op jobs, --concurrency=25`);
  const r = await repeated(h, { scenario: "drain:1m", queue: "bench", jobs, payload: '{"class":"Noop","args":[]}', concurrency: 25, processes: 1, timeoutMs: 600_000 });
  r.peak_rss_growth_mb = Math.round(((r.peak_rss_mb as number) - (r.peak_rss_at_20pct_mb as number)) * 10) / 10;
  h.results.emit(r);
}

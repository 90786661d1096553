// Scenario "drain" (issue #5): how fast one worker empties a queue of pre-filled no-op jobs, and what each
// job costs the worker and Redis (CPU, commands, scripts), with --concurrency=25 --exit-on-complete.
import type { Harness } from "../harness/harness";
import { log } from "../harness/util";
import { repeated } from "./throughput";

export async function drain(h: Harness): Promise<void> {
  const jobs = h.opts.quick ? 50_000 : 200_000;
  // --middleware: the default worker installs that many trivial middleware (bench-worker.ts reads the variable).
  for (const mw of h.opts.middleware) {
    process.env.BENCH_MIDDLEWARE = String(mw);
    const scenario = mw ? `drain:mw${mw}` : "drain";
    log(`${scenario}: ${jobs} no-op jobs, --concurrency=25, ${mw} middleware`);
    const r = await repeated(h, { scenario, queue: "bench", jobs, payload: '{"class":"Noop","args":[]}', concurrency: 25, processes: 1, timeoutMs: 300_000 });
    h.results.emit({ ...r, middleware: mw });
  }
  delete process.env.BENCH_MIDDLEWARE;
}

// Scenario "drain" (issue #5): how fast one worker empties a queue of pre-filled no-op jobs, and what each
// job costs the worker and Redis (CPU, commands, scripts), with --concurrency=25 --exit-on-complete.
import type { Harness } from "../harness/harness";
import { log } from "../harness/util";
import { repeated } from "./throughput";

export async function drain(h: Harness): Promise<void> {
  const jobs = h.opts.quick ? 50_000 : 200_000;
  log(`drain: ${jobs} no-op jobs, --concurrency=25`);
  const r = await repeated(h, { scenario: "drain", queue: "bench", jobs, payload: '{"class":"Noop","args":[]}', concurrency: 25, processes: 1, timeoutMs: 300_000 });
  h.results.emit(r);
}

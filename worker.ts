#!/usr/bin/env bun
// The worker command: `bun run worker.ts --queues=...`, and the entry point build.ts compiles.
// Every job module in jobs/ is loaded (build.ts bundles the same set into the binary), then work() reads
// the command line and environment.
import { loadJobs } from "./src/job-loader";
import { work } from "./src/index";

try {
  await loadJobs(process.env.BUNWORKER_JOBS_DIR ?? import.meta.dir + "/jobs");
  await work();
  process.exit(0);
} catch (e) {
  process.stderr.write(`bunworker: ${(e as Error).message}\n`);
  process.exit(1);
}

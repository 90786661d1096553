// The worker program the benchmark (test/bench/bench.ts) runs by default: the real worker CLI (work() reads
// this process's command line) with a few job classes whose cost is known in advance.
//   Noop          does nothing (measures the worker's own cost per job)
//   Sleep  ms     awaits ms milliseconds (slots: many jobs waiting at once)
//   Cpu    ms     burns ms milliseconds of CPU synchronously (processes: one core per process)
//   Stamp  sent key
//                 pickup latency: `sent` is the enqueuer's clock in epoch milliseconds with decimals
//                 (performance.timeOrigin + performance.now()); the job takes the same clock first thing and
//                 RPUSHes the difference, in milliseconds, to `key`.
// $BENCH_MIDDLEWARE (bench --middleware) installs that many trivial middleware around every job.
// As it exits it writes its own VmHWM to stderr (harness/memory.ts), the peak RSS the drain reports.
// This file is not a test and is not run by `bun test`.
import { redis, register, use, work } from "../../src/index";
import { selfReport } from "./harness/memory";

for (let i = 0; i < Number(process.env.BENCH_MIDDLEWARE ?? 0); i++) {
  use(async (_ctx, next) => {
    await next();
  });
}

register("Noop", () => {});
register("Sleep", (_q: string, ms: number) => Bun.sleep(ms));
register("Cpu", (_q: string, ms: number) => {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) for (let i = 0; i < 1000; i++) x = (x * 31 + i) | 0;
  return x === 0.5 ? x : undefined;
});
register("Stamp", (_q: string, sent: number, key: string) => {
  const delta = performance.timeOrigin + performance.now() - sent;
  return redis().rpush(key, delta.toFixed(4));
});

await work();
process.stderr.write(selfReport());
process.exit(0);

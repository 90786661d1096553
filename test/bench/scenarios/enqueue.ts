// Scenario "enqueue" (issue #16 point 5): one producer process (enqueue-producer.ts) writes N jobs with
// enqueueMany; jobs/s from the call to its resolution (payload encoding included). Beside it, the limit:
// redis-benchmark's pipelined LPUSH (-P 100) on the same server, when redis-benchmark is installed.
import type { Harness } from "../harness/harness";
import { NS, ROOT } from "../harness/options";
import { round } from "../harness/stats";
import { log } from "../harness/util";

async function run(cmd: string[]): Promise<string> {
  const proc = Bun.spawn(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${cmd[0]} exited ${code}: ${err.trim().split("\n").pop()}`);
  return out;
}

async function lpushLimit(port: number, n: number): Promise<number | null> {
  if (!Bun.which("redis-benchmark")) return null;
  const out = await run(["redis-benchmark", "-h", "127.0.0.1", "-p", String(port), "-t", "lpush", "-P", "100", "-q", "-n", String(n)]);
  const m = /LPUSH: ([\d.]+) requests per second/.exec(out.replace(/\r/g, "\n"));
  return m ? Number(m[1]) : null;
}

export async function enqueue(h: Harness): Promise<void> {
  const jobs = h.opts.quick ? 50_000 : 200_000;
  const rates: number[] = [];
  for (let i = 0; i < h.opts.repeat; i++) {
    await h.redis.cmd("FLUSHALL");
    log(`enqueue: ${jobs} jobs with enqueueMany from one process (run ${i + 1}/${h.opts.repeat})`);
    const line = await run([process.execPath, `${ROOT}test/bench/enqueue-producer.ts`, h.redis.uri, String(jobs)]);
    const { jobs: written, ms } = JSON.parse(line.trim().split("\n").pop() as string) as { jobs: number; ms: number };
    const len = Number(await h.redis.cmd("LLEN", [`${NS}queue:bulk`]));
    if (written !== jobs || len !== jobs) throw new Error(`enqueue: wrote ${written}, queue holds ${len}, expected ${jobs}`);
    rates.push((jobs / ms) * 1000);
  }
  await h.redis.cmd("FLUSHALL");
  const limit = await lpushLimit(h.redis.port, jobs);
  await h.redis.cmd("FLUSHALL");
  const sorted = [...rates].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  h.results.emit({
    scenario: "enqueue",
    jobs,
    seconds: round(jobs / median, 3),
    jobs_per_s: round(median, 0),
    runs_jobs_per_s: rates.map((r) => round(r, 0)),
    redis_benchmark_lpush_per_s: limit ?? undefined,
    of_lpush_limit_pct: limit ? round((median / limit) * 100, 1) : undefined,
  });
}

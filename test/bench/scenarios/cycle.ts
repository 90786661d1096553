// Scenario "cycle" (issue #15): what the fetch script itself costs Redis per job, without a worker process in
// the way, so that a change to src/lua/*.lua can be measured in seconds and the same way every day. The
// harness plays one lane of a registered process with 12 slots: every call acknowledges the 12 jobs the call
// before fetched ("ok", with their tokens) and fills the 12 slots again from a pre-filled queue (the drain's
// steady state: 25 slots in two lanes, 12.5 jobs per call). Calls are sent one at a time.
//   script_usec_per_call / _per_job   INFO commandstats usec of EVALSHA (time inside the script)
//   redis_cpu_us_per_job              used_cpu_user + used_cpu_sys delta (parsing, replies, networking included)
//   fleet_ceiling_jobs_per_s          1e6 / redis_cpu_us_per_job
import type { Harness } from "../harness/harness";
import { NS } from "../harness/options";
import { delta } from "../harness/redis";
import { round } from "../harness/stats";
import { log } from "../harness/util";

const SLOTS = 12;
const PROC = "bench-host:1:cycle";

export async function cycle(h: Harness): Promise<void> {
  const { laneCycle } = await import("../../../src/scripts");
  const { makeKeys } = await import("../../../src/keys");
  const { RedisClient } = await import("bun");
  const keys = makeKeys(NS);
  const calls = h.opts.quick ? 1000 : 4000;
  const jobs = calls * SLOTS;
  log(`cycle: ${calls} calls of the fetch script, ${SLOTS} acks + ${SLOTS} fills each`);
  const { redis } = h;
  await redis.cmd("FLUSHALL");
  const items = new Array<string>(1000).fill('{"class":"Noop","args":[]}');
  for (let i = 0; i < jobs + SLOTS; i += 1000) await redis.cmd("RPUSH", [keys.queue("bench"), ...items]);
  await redis.cmd("HSET", [keys.beats, PROC, "0|bench"]);
  const fill = Array.from({ length: SLOTS }, (_, slot) => ({ id: `bench-host:1:bench:${slot}.cycle`, slot }));
  const c = new RedisClient(redis.uri);
  await c.connect();
  const run = (call: number, ops: { id: string; slot: number }[]) =>
    laneCycle(c, keys, {
      proc: PROC, lane: 0, call, runAt: "2026-12-02T16:00:00Z", failedAt: "2026/12/02 16:00:00 UTC", fill, queues: ["bench"],
      ops: ops.map((f) => ({ kind: "ack" as const, id: f.id, slot: f.slot, token: String(call - 1), outcome: "ok" as const })),
    });
  try {
    await run(1, []); // fills every slot: the steady state starts at call 2 (and loads the script)
    const before = await redis.snapshot();
    redis.ownCommands = 1;
    for (let call = 2; call < calls + 2; call++) {
      const r = await run(call, fill);
      if (r.jobs.length !== SLOTS) throw new Error(`cycle: call ${call} fetched ${r.jobs.length} jobs, expected ${SLOTS}`);
    }
    const d = delta(before, await redis.snapshot(), redis.ownCommands);
    const processed = Number(await redis.cmd("GET", [keys.processed]));
    if (processed !== jobs) throw new Error(`cycle: stat:processed is ${processed}, expected ${jobs}`);
    const usec = d.usec.get("evalsha") ?? NaN;
    const cpu = d.cpuUs / jobs;
    h.results.emit({
      scenario: "cycle",
      worker: "harness",
      calls,
      jobs,
      jobs_per_call: SLOTS,
      script_usec_per_call: round(usec / calls, 2),
      script_usec_per_job: round(usec / jobs, 2),
      redis_cpu_us_per_job: round(cpu, 2),
      redis_cmds_per_job: round(d.commands / jobs, 3),
      fleet_ceiling_jobs_per_s: Math.round(1e6 / cpu),
      note: "one lane of 12 slots driven by the harness: each call acks 12 jobs and fetches 12; Redis-side cost only",
    });
  } finally {
    c.close();
  }
}

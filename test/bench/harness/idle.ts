// Idle traffic, shared by the latency and queues scenarios: with nothing queued and nothing running, how
// many commands Redis runs because of the worker over --idle-seconds. The count is the INFO
// total_commands_processed delta minus the harness's own commands (so commands run inside Lua scripts are
// included); MONITOR splits it into commands the worker sent and commands its scripts ran.
import type { Harness } from "./harness";
import { Monitor, type MonitorLine } from "./monitor";
import { delta } from "./redis";
import { round } from "./stats";
import { epochMs, sleep } from "./util";

export interface IdleTraffic {
  seconds: number;
  /** total_commands_processed delta minus the harness's own commands. */
  commands: number;
  /** Commands the worker sent (MONITOR, not from the harness, not from "lua"). */
  sent: number;
  /** Commands run inside scripts (MONITOR addr "lua"). */
  inScripts: number;
  byCommand: Record<string, number>;
  inside: Record<string, number>;
}

function countBy(lines: MonitorLine[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of lines) out[l.command] = (out[l.command] ?? 0) + 1;
  return out;
}

/** Waits 1 s for the worker to settle, then counts for `seconds`. */
export async function idleTraffic(h: Harness, seconds: number): Promise<IdleTraffic> {
  const { redis } = h;
  await sleep(1000);
  const mon = new Monitor(false);
  try {
    await mon.open(redis.port);
    const me = await redis.ownAddr();
    const before = await redis.snapshot();
    redis.ownCommands = 1;
    const t0 = epochMs();
    await sleep(seconds * 1000);
    const own = redis.ownCommands;
    const after = await redis.snapshot();
    const elapsed = (epochMs() - t0) / 1000;
    mon.close();
    const fromWorker = mon.lines.filter((l) => l.ts >= t0 && l.addr !== me);
    const top = fromWorker.filter((l) => l.addr !== "lua");
    const inScripts = fromWorker.filter((l) => l.addr === "lua");
    return { seconds: elapsed, commands: delta(before, after, own).commands, sent: top.length, inScripts: inScripts.length, byCommand: countBy(top), inside: countBy(inScripts) };
  } finally {
    mon.close();
  }
}

/** The JSON fields of an idle measurement, from `seconds` to `idle_commands_inside_scripts`. */
export function idleFields(t: IdleTraffic): Record<string, unknown> {
  return {
    seconds: round(t.seconds, 2),
    idle_cmds_per_s: round(t.commands / t.seconds, 2),
    idle_client_cmds_per_s: round(t.sent / t.seconds, 2),
    idle_script_cmds_per_s: round(t.inScripts / t.seconds, 2),
    idle_commands: t.byCommand,
    idle_commands_inside_scripts: t.inside,
  };
}

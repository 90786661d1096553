// Finished jobs are never handed back as if unfinished (issue #14). When a bad key stops the worker, the acks
// its lanes could not write are kept (keep-outcomes-2.lua) before release hands back the unfinished jobs; the
// next worker to start writes them (record-outcomes-4.lua) once the key is fixed.
import type { WorkerContext } from "./context";
import type { RedisConn } from "./redis";
import { failedAt } from "./resque-time";
import { keepOutcomes, recordOutcomes, type SlotOp } from "./scripts";

/** At shutdown, before release: returns how many outcomes were kept. */
export async function keepUnsent(ctx: WorkerContext, conn: RedisConn, ops: readonly SlotOp[]): Promise<number> {
  if (ops.length === 0) return 0;
  const { config, proc } = ctx;
  const kept = await conn.run((c) => keepOutcomes(c, config.keys, { proc, failedAt: failedAt(config.clock.now()), ops }), "keep outcomes");
  if (kept) config.log.warn(`kept the outcomes of ${kept} finished job(s) whose acks could not be written in ${config.keys.outcomes}: they are not run again; the next worker start records them`);
  return kept;
}

/** At start, after the preflight: the outcomes a stopped worker kept are counted and their failures recorded. */
export async function recordKept(ctx: WorkerContext, conn: RedisConn): Promise<void> {
  const { config } = ctx;
  const { processed, failed } = await conn.run((c) => recordOutcomes(c, config.keys), "record outcomes");
  if (processed) config.log.info(`recorded ${processed} kept outcome(s) of jobs a stopped worker had finished (${failed} failed) from ${config.keys.outcomes}`);
}

/** A lane's call met tampered bookkeeping (lane-cycle-6.lua): said once per call, naming the keys. */
export function reportTampering(ctx: WorkerContext, tampered: number, gone: readonly string[]): void {
  const { keys, log } = ctx.config;
  if (tampered) log.error(`${keys.lanes(ctx.proc)}: ${tampered} finished job(s) had no valid token in the lanes hash (the hash or a slot's "t<slot>" field was deleted or overwritten): acknowledged by their slots, so none runs again`);
  for (const id of gone) log.warn(`${keys.worker(id)} was deleted while its job ran (Resque.remove_worker?): the job is counted as processed; the next heartbeat registers the worker again`);
}

// Worker lifecycle hooks, for pools and clients that jobs share (Resque's before_first_fork / worker_exit):
// - onStart: awaited in registration order once Redis answers, before the worker registers or fetches; a throw
//   stops start-up: nothing is registered or fetched, and the command line exits 1 with one line.
// - onStop: awaited in reverse order (last opened, first closed) after the last job finished or was handed back
//   and the worker unregistered, until the shutdown deadline (at least 1 s); a throw is logged and the next one
//   still runs. With --processes, each worker process runs them (the supervisor runs no job code).
import type { ConsolaInstance } from "consola/core";
import { sleep } from "./retry";

export interface WorkerInfo {
  /** The worker's logger (consola). */
  readonly log: ConsolaInstance;
  /** The Resque worker ids of this process's slots. */
  readonly workerIds: readonly string[];
}

export type LifecycleHook = (worker: WorkerInfo) => unknown;

/** The least time onStop gets even when the jobs used the whole shutdown deadline. */
export const MIN_STOP_MS = 1000;

export class OnStartError extends Error {
  override name = "OnStartError";
}

export class Lifecycle {
  private readonly starts: LifecycleHook[] = [];
  private readonly stops: LifecycleHook[] = [];

  onStart(fn: LifecycleHook): void {
    if (typeof fn !== "function") throw new TypeError("onStart: expects a function");
    this.starts.push(fn);
  }

  onStop(fn: LifecycleHook): void {
    if (typeof fn !== "function") throw new TypeError("onStop: expects a function");
    this.stops.push(fn);
  }

  async start(worker: WorkerInfo): Promise<void> {
    for (const fn of this.starts) {
      try {
        await fn(worker);
      } catch (e) {
        throw new OnStartError(`onStart failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      }
    }
  }

  /** Runs every onStop hook; gives up waiting at `deadline` (epoch ms) or when `cut` aborts (a second signal). */
  async stop(worker: WorkerInfo, deadline: number, cut: AbortSignal): Promise<void> {
    if (this.stops.length === 0) return;
    const all = (async () => {
      for (const fn of [...this.stops].reverse()) {
        try {
          await fn(worker);
        } catch (e) {
          worker.log.error(`onStop failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
        }
      }
      return true;
    })();
    const ms = Math.max(deadline - Date.now(), MIN_STOP_MS);
    const finished = await Promise.race([all, sleep(ms, cut).then(() => false)]);
    if (!finished) worker.log.warn(`onStop did not finish within ${(ms / 1000).toFixed(1)} s; exiting without it`);
  }
}

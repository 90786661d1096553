// Retrying Redis work through an outage of any length: exponential backoff (a pure function) and one
// warning per outage rather than one per failed call.
import type { ConsolaInstance } from "consola/core";
import { isTransient } from "./redis";

/** 50 ms doubling to 2 s, scaled by `jitter` in [0.5, 1] so a fleet does not reconnect in lock-step. */
export function backoffMs(attempt: number, jitter: number): number {
  return Math.min(2000, 50 * 2 ** Math.min(attempt, 10)) * (0.5 + jitter / 2);
}

/** Shared by every loop of a worker, so an outage is reported once. */
export class Outage {
  private since = 0;
  constructor(private readonly log: ConsolaInstance, private readonly where: string) {}

  failed(e: unknown): void {
    if (this.since) return;
    this.since = Date.now();
    this.log.warn(`Redis at ${this.where} is unavailable (${(e as Error).message}); retrying with backoff until it is back`);
  }

  recovered(): void {
    if (!this.since) return;
    this.log.info(`Redis at ${this.where} is back after ${((Date.now() - this.since) / 1000).toFixed(1)} s`);
    this.since = 0;
  }

  get down(): boolean {
    return this.since !== 0;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Runs `f` until it succeeds or `signal` aborts (then the last error is thrown). A non-transient error is
 * thrown at once, unless `onPermanent` is given: then it is reported and retried too, so that one bad key or
 * a bug cannot stop a worker that must keep its in-flight jobs.
 */
export async function retrying<T>(f: () => Promise<T>, outage: Outage, signal?: AbortSignal, onPermanent?: (e: unknown) => void): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const v = await f();
      outage.recovered();
      return v;
    } catch (e) {
      if (signal?.aborted) throw e;
      if (!isTransient(e)) {
        if (!onPermanent) throw e;
        onPermanent(e);
      } else outage.failed(e);
      await sleep(backoffMs(attempt, Math.random()), signal);
      if (signal?.aborted) throw e;
    }
  }
}

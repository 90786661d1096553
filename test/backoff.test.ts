// Issue #8: the retry backoff (a pure function) and Periodic, the timer behind heartbeats, the reaper and the
// queue refresh: ticks never overlap, a failing tick is reported and the timer goes on, stop() stops.
import { describe, expect, test } from "bun:test";
import { Periodic } from "../src/periodic";
import { backoffMs } from "../src/retry";
import { waitFor } from "./helpers/redis";

describe("backoffMs(attempt, jitter)", () => {
  // 50 ms doubling to a 2 s cap, scaled by 0.5 + jitter / 2
  test.each([
    [0, 1, 50],
    [0, 0, 25],
    [0, 0.5, 37.5],
    [1, 1, 100],
    [2, 0.5, 150],
    [3, 1, 400],
    [5, 1, 1600],
    [6, 1, 2000],
    [6, 0, 1000],
    [10, 1, 2000],
    [11, 0.5, 1500],
    [1_000_000, 1, 2000],
  ])("attempt %p, jitter %p -> %p ms", (attempt, jitter, ms) => {
    expect(backoffMs(attempt, jitter)).toBe(ms);
  });

  test("never above 2 s, never below half of the unjittered delay", () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const full = Math.min(2000, 50 * 2 ** attempt);
      for (const jitter of [0, 0.25, 0.5, 0.75, 1]) {
        const ms = backoffMs(attempt, jitter);
        expect(ms).toBeLessThanOrEqual(2000);
        expect(ms).toBeGreaterThanOrEqual(full / 2);
        expect(ms).toBeLessThanOrEqual(full);
      }
    }
  });
});

describe("Periodic", () => {
  test("runOnce() while a tick runs does not start another one", async () => {
    let calls = 0;
    let finish: () => void = () => {};
    const p = new Periodic(60_000, () => {
      calls++;
      return new Promise<void>((r) => (finish = r));
    }, () => {});
    const first = p.runOnce();
    await p.runOnce();
    await p.runOnce();
    expect(calls).toBe(1);
    finish();
    await first;
    const again = p.runOnce();
    expect(calls).toBe(2);
    finish();
    await again;
  });

  test("timer ticks never overlap, even when a tick outlasts the interval", async () => {
    let active = 0;
    let most = 0;
    let ticks = 0;
    const p = new Periodic(2, async () => {
      active++;
      most = Math.max(most, active);
      // a slow Redis call: many intervals long
      await Bun.sleep(15);
      active--;
      ticks++;
    }, () => {});
    p.start();
    try {
      await waitFor(() => ticks >= 4, 5000, "four ticks");
    } finally {
      p.stop();
    }
    expect(most).toBe(1);
  });

  test("a failing tick goes to onError and the timer keeps ticking", async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const p = new Periodic(2, async () => {
      calls++;
      if (calls <= 2) throw new Error(`tick ${calls} failed`);
    }, (e) => errors.push(e));
    p.start();
    try {
      await waitFor(() => calls >= 5, 5000, "ticks after the failures");
    } finally {
      p.stop();
    }
    expect(errors.map((e) => (e as Error).message)).toEqual(["tick 1 failed", "tick 2 failed"]);
  });

  test("a synchronous throw inside the tick is reported too", async () => {
    const errors: unknown[] = [];
    const p = new Periodic(60_000, () => {
      throw new RangeError("sync");
    }, (e) => errors.push(e));
    await p.runOnce();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(RangeError);
  });

  test("stop() stops (start() twice makes one timer, which one stop() ends)", async () => {
    let stopped = 0;
    const p = new Periodic(2, async () => void stopped++, () => {});
    p.start();
    p.start();
    await waitFor(() => stopped >= 2, 5000, "ticks before stop()");
    p.stop();
    const atStop = stopped;
    // A witness with the same interval shows that many intervals have passed since.
    let witnessed = 0;
    const witness = new Periodic(2, async () => void witnessed++, () => {});
    witness.start();
    try {
      await waitFor(() => witnessed >= 10, 5000, "the witness's ticks");
    } finally {
      witness.stop();
    }
    expect(stopped).toBe(atStop);
  });
});

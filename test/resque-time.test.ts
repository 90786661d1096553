// Time strings exactly as Resque writes them (reference sections 1, 4, 6).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { failedAt, heartbeatAt, runAt, startedAt } from "../src/resque-time";

const MODULE = new URL("../src/resque-time.ts", import.meta.url).pathname;

const jan = new Date(Date.UTC(2026, 0, 5, 3, 4, 5, 678)); // 2026-01-05T03:04:05.678Z
const jul = new Date(Date.UTC(2026, 6, 5, 23, 59, 59, 999)); // 2026-07-05T23:59:59.999Z
const nov = new Date(Date.UTC(2026, 10, 27, 4, 18, 29)); // the reference's example
const y2k = new Date(Date.UTC(2000, 1, 29, 0, 0, 0)); // leap day, midnight

describe("in UTC", () => {
  // Bun re-reads TZ when it changes: pin this process to UTC for these cases, then put it back.
  const saved = process.env.TZ;
  beforeAll(() => {
    process.env.TZ = "UTC";
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });

  test.each([
    { date: nov, run: "2026-11-27T04:18:29Z", failed: "2026/11/27 04:18:29 UTC", started: "2026-11-27 04:18:29 +0000", beat: "2026-11-27T04:18:29+00:00" },
    { date: jan, run: "2026-01-05T03:04:05Z", failed: "2026/01/05 03:04:05 UTC", started: "2026-01-05 03:04:05 +0000", beat: "2026-01-05T03:04:05+00:00" },
    { date: jul, run: "2026-07-05T23:59:59Z", failed: "2026/07/05 23:59:59 UTC", started: "2026-07-05 23:59:59 +0000", beat: "2026-07-05T23:59:59+00:00" },
    { date: y2k, run: "2000-02-29T00:00:00Z", failed: "2000/02/29 00:00:00 UTC", started: "2000-02-29 00:00:00 +0000", beat: "2000-02-29T00:00:00+00:00" },
  ])("$run", ({ date, run, failed, started, beat }) => {
    expect(runAt(date)).toBe(run);
    expect(failedAt(date)).toBe(failed);
    expect(startedAt(date)).toBe(started);
    expect(heartbeatAt(date)).toBe(beat);
  });

  test("fractions of a second are dropped, never rounded up", () => {
    const d = new Date(Date.UTC(2026, 11, 31, 23, 59, 59, 999));
    expect(runAt(d)).toBe("2026-12-31T23:59:59Z");
    expect(failedAt(d)).toBe("2026/12/31 23:59:59 UTC");
    expect(startedAt(d)).toBe("2026-12-31 23:59:59 +0000");
    expect(heartbeatAt(d)).toBe("2026-12-31T23:59:59+00:00");
  });

  test("formats parse back to the same second", () => {
    const whole = new Date(Math.floor(jan.getTime() / 1000) * 1000);
    expect(new Date(runAt(jan)).getTime()).toBe(whole.getTime());
    expect(new Date(heartbeatAt(jan)).getTime()).toBe(whole.getTime());
  });
});

describe("in other zones (child processes with TZ set)", () => {
  function formatIn(tz: string, dates: Date[]): { run: string; failed: string; started: string; beat: string }[] {
    const script = `import { runAt, failedAt, startedAt, heartbeatAt } from ${JSON.stringify(MODULE)};
const dates = ${JSON.stringify(dates.map((d) => d.getTime()))}.map((t) => new Date(t));
process.stdout.write(JSON.stringify(dates.map((d) => ({ run: runAt(d), failed: failedAt(d), started: startedAt(d), beat: heartbeatAt(d) }))));`;
    const r = Bun.spawnSync([process.execPath, "-e", script], { env: { ...process.env, TZ: tz }, stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`bun -e failed: ${r.stderr.toString()}`);
    return JSON.parse(r.stdout.toString());
  }

  test("America/New_York: local offsets -0500 / -05:00 in January, -0400 in July; failed_at and run_at stay UTC", () => {
    const [winter, summer, late] = formatIn("America/New_York", [jan, jul, nov]);
    expect(winter).toEqual({ run: "2026-01-05T03:04:05Z", failed: "2026/01/05 03:04:05 UTC", started: "2026-01-04 22:04:05 -0500", beat: "2026-01-04T22:04:05-05:00" });
    expect(summer).toEqual({ run: "2026-07-05T23:59:59Z", failed: "2026/07/05 23:59:59 UTC", started: "2026-07-05 19:59:59 -0400", beat: "2026-07-05T19:59:59-04:00" });
    expect(late).toEqual({ run: "2026-11-27T04:18:29Z", failed: "2026/11/27 04:18:29 UTC", started: "2026-11-26 23:18:29 -0500", beat: "2026-11-26T23:18:29-05:00" });
  });

  test("half-hour and quarter-hour offsets, east and west", () => {
    const [kolkata] = formatIn("Asia/Kolkata", [jan]);
    expect(kolkata).toEqual({ run: "2026-01-05T03:04:05Z", failed: "2026/01/05 03:04:05 UTC", started: "2026-01-05 08:34:05 +0530", beat: "2026-01-05T08:34:05+05:30" });
    const [stJohns] = formatIn("America/St_Johns", [jan]);
    expect(stJohns?.started).toBe("2026-01-04 23:34:05 -0330");
    expect(stJohns?.beat).toBe("2026-01-04T23:34:05-03:30");
    const [chatham] = formatIn("Pacific/Chatham", [jan]);
    expect(chatham?.started).toBe("2026-01-05 16:49:05 +1345");
    expect(chatham?.beat).toBe("2026-01-05T16:49:05+13:45");
  });

  test("heartbeatAt in any zone names the same instant", () => {
    for (const tz of ["America/New_York", "Asia/Kolkata", "Pacific/Chatham"]) {
      const [r] = formatIn(tz, [jan]);
      expect(new Date(r?.beat as string).getTime()).toBe(Math.floor(jan.getTime() / 1000) * 1000);
    }
  });
});

// Issue #9 point 8: every duration has an upper bound below the JS timer limit (2^31-1 ms: a larger delay
// fires after ~1 ms), so --job-timeout=2200000 is refused instead of failing every job at once, and
// --heartbeat-interval=1100000 instead of beating ~900 times a second.
import { describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { parseCommandLine } from "../src/cli";
import { resolveConfig } from "../src/config";
import { SettingsError } from "../src/errors";
import { defaultSettings } from "../src/settings";
import { REDIS_URL, isolate, thrown } from "./helpers/redis";
import { spawnWorker } from "./helpers/worker-process";

const TIMER_LIMIT_MS = 2 ** 31 - 1;

// flag, its maximum in seconds and in words, how many times the code multiplies it into one timer, and what
// else the maximum needs (--dead-after must be at least twice the heartbeat interval).
const DURATIONS = [
  { flag: "interval", max: 300, words: "5 minutes", factor: 1, with: [] },
  { flag: "shutdown-timeout", max: 86_400, words: "1 day", factor: 1, with: [] },
  { flag: "job-timeout", max: 2_147_483, words: "24.8 days", factor: 1, with: [] },
  { flag: "heartbeat-interval", max: 150, words: "2.5 minutes, half of Resque's 300 s prune window: a Ruby worker prunes slots whose heartbeat is older", factor: 2, with: ["--dead-after=300"] },
  { flag: "dead-after", max: 86_400, words: "1 day", factor: 1, with: [] },
  { flag: "command-timeout", max: 3600, words: "1 hour", factor: 3, with: [] },
];

const resolve = (argv: string[]) => resolveConfig({ ...defaultSettings({}), ...parseCommandLine(["--queues=q", ...argv], {}).settings });

describe.each(DURATIONS)("--$flag", ({ flag, max, words, factor, with: needs }) => {
  test(`at most ${max} (${words}), which every timer it sets can hold`, () => {
    expect(() => resolve([`--${flag}=${max}`, ...needs])).not.toThrow();
    expect(max * 1000 * factor).toBeLessThanOrEqual(TIMER_LIMIT_MS);
  });

  test.each([max + 0.5, max + 1, 2_200_000, 1e12])("%p is refused with one line naming the bound", (over) => {
    const e = thrown(() => resolve([`--${flag}=${over}`]));
    expect(e).toBeInstanceOf(SettingsError);
    expect(e.message).toBe(`--${flag} must be at most ${max} (${words}), got ${over}`);
  });

  test("from the command line: exit 2, the message and the usage line", async () => {
    // An unreachable Redis: without the bound the worker would start and fail later, not exit 2.
    const w = spawnWorker(["--queues=q", "--uri=redis://127.0.0.1:1/", `--${flag}=2200000`]);
    expect(await w.exited).toBe(2);
    expect(w.output().trim().split("\n")).toEqual([
      `bunworker: --${flag} must be at most ${max} (${words}), got 2200000`,
      expect.stringMatching(/^usage: bunworker --queues=/),
    ]);
  });

  test("--help names the bound", async () => {
    const help = spawnWorker(["--help"]);
    expect(await help.exited).toBe(0);
    // The option's block: its flag line and the wrapped description lines under it, joined.
    const lines = help.output().split("\n");
    const at = lines.findIndex((l) => l.includes(`--${flag}=`));
    const block = lines.slice(at, at + 6).join(" ").replace(/\s+/g, " ");
    expect(block).toContain(`at most ${max} = ${words}`);
  });
});

test("$INTERVAL beyond the bound is refused too", () => {
  const e = thrown(() => resolveConfig({ ...defaultSettings({}), ...parseCommandLine(["--queues=q"], { INTERVAL: "1100000" }).settings }));
  expect(e.message).toBe("--interval must be at most 300 (5 minutes), got 1100000");
});

describe("a job under --job-timeout at its maximum", () => {
  let c: RedisClient;
  let ns: string;
  isolate((client, namespace) => {
    c = client;
    ns = namespace;
  });

  test("runs to completion instead of failing at once", async () => {
    await c.rpush(`${ns}queue:dur`, '{"class":"Slow","args":[300,"long-timeout"]}');
    const w = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=dur", "--job-timeout=2147483", "--exit-on-complete"]);
    expect(await w.exited).toBe(0);
    expect(await c.lrange(`${ns}test:ran`, 0, -1)).toEqual(["long-timeout"]);
    expect(await c.llen(`${ns}failed`)).toBe(0);
    expect(await c.get(`${ns}stat:processed`)).toBe("1");
    expect(await c.scard(`${ns}workers`)).toBe(0);
  });
});

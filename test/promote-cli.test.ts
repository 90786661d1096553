// Issue #17 point 2: the promoter's flag. On by default; --no-promote, --promote=false and goworker's -promote=false turn it off.
import { expect, test } from "bun:test";
import { parseCommandLine } from "../src/cli";
import { resolveConfig } from "../src/config";
import { defaultSettings } from "../src/settings";

const promote = (argv: string[]) => resolveConfig({ ...defaultSettings({}), ...parseCommandLine(["--queues=q", ...argv], {}).settings }).promote;

test("promotion is on by default and each spelling of the flag turns it off or on", () => {
  expect(promote([])).toBe(true);
  expect(promote(["--no-promote"])).toBe(false);
  expect(promote(["--promote=false"])).toBe(false);
  expect(promote(["-promote=false"])).toBe(false);
  expect(promote(["--promote"])).toBe(true);
});

test("a bad value is refused naming the flag", () => {
  expect(() => parseCommandLine(["--queues=q", "--promote=maybe"], {})).toThrow(/--promote takes no value or true\/false/);
  expect(() => parseCommandLine(["--queues=q", "--no-queues"], {})).toThrow(/unknown flag "--no-queues"/);
});

// Issue #8 (and #9): who is dead, decided without processes or clocks. deadProcesses and liveness are pure;
// /proc is replaced by an injected stat function.
import { describe, expect, test } from "bun:test";
import { encodeIdentity, liveness, parseBeat, type Identity, type ProcStat } from "../src/identity";
import { deadProcesses, type Self } from "../src/reaper";

const BOOT = "5c8c1e0e-boot-a";
const NS = "pid:[4026531836]";
const me: Identity = { pid: 100, start: "5000", pidns: NS, boot: BOOT };
const self: Self = { proc: "host:100:me", identity: me };
const NOW = 1_000_000;
const DEAD_AFTER = 60_000;
const FRESH = NOW - 1_000;
const OLD = NOW - DEAD_AFTER - 1;

/** /proc as the test says it is: pid -> state; a pid not listed has no process. */
function procs(table: Record<number, ProcStat>): { stat: (pid: number) => ProcStat | null; asked: number[] } {
  const asked: number[] = [];
  return { asked, stat: (pid) => (asked.push(pid), table[pid] ?? null) };
}

const other = (pid: number, over: Partial<Identity> = {}): Identity => ({ pid, start: "7000", pidns: NS, boot: BOOT, ...over });
const beat = (ms: number, identity?: Identity) => (identity ? `${ms}|${encodeIdentity(identity)}` : String(ms));
/** A beat that says how long it stays valid (issue #14): its owner's --dead-after. */
const valid = (ms: number, identity: Identity, validMs: number) => `${ms}|${encodeIdentity(identity)}|${validMs}`;
const elsewhere = (pid: number) => other(pid, { pidns: "pid:[4026532999]" });

describe("deadProcesses", () => {
  const running = { 200: { state: "S", start: "7000" } };
  test.each<{ name: string; value: string; table: Record<number, ProcStat>; dead: boolean; statAsked: boolean }>([
    // same boot and pid namespace: the pid decides at once, whatever the beat's age
    { name: "same host, pid running with its start time, fresh beat", value: beat(FRESH, other(200)), table: running, dead: false, statAsked: true },
    { name: "same host, pid missing", value: beat(FRESH, other(200)), table: {}, dead: true, statAsked: true },
    { name: "same host, pid a zombie", value: beat(FRESH, other(200)), table: { 200: { state: "Z", start: "7000" } }, dead: true, statAsked: true },
    { name: "same host, pid dead (X)", value: beat(FRESH, other(200)), table: { 200: { state: "X", start: "7000" } }, dead: true, statAsked: true },
    { name: "same host, pid reused by a process started at another time", value: beat(FRESH, other(200)), table: { 200: { state: "S", start: "9999" } }, dead: true, statAsked: true },
    // issue #14: alive by its pid but its beat is late (a job blocks its event loop): alive, however late
    { name: "same host, pid running, beat too old (event loop blocked)", value: beat(OLD, other(200)), table: running, dead: false, statAsked: true },
    { name: "same host, pid running (R), beat an hour old", value: valid(NOW - 3_600_000, other(200), 3000), table: { 200: { state: "R", start: "7000" } }, dead: false, statAsked: true },
    // stopped (SIGSTOP: state T, or t under a debugger): dead once its beat has expired, alive before
    { name: "same host, stopped (T), beat too old", value: beat(OLD, other(200)), table: { 200: { state: "T", start: "7000" } }, dead: true, statAsked: true },
    { name: "same host, stopped (t), beat past its own validity", value: valid(NOW - 4000, other(200), 3000), table: { 200: { state: "t", start: "7000" } }, dead: true, statAsked: true },
    { name: "same host, stopped (T), fresh beat", value: beat(FRESH, other(200)), table: { 200: { state: "T", start: "7000" } }, dead: false, statAsked: true },
    { name: "same host, stopped (T), beat older than our --dead-after but within its own validity", value: valid(OLD, other(200), 120_000), table: { 200: { state: "T", start: "7000" } }, dead: false, statAsked: true },
    // issue #14: mixed settings: a beat is judged by the validity it carries, not by the judge's --dead-after
    { name: "other pid namespace, beat older than our --dead-after, within its own validity", value: valid(NOW - 90_000, elsewhere(200), 120_000), table: {}, dead: false, statAsked: false },
    { name: "other pid namespace, beat within our --dead-after, past its own (shorter) validity", value: valid(NOW - 4000, elsewhere(200), 3000), table: {}, dead: true, statAsked: false },
    { name: "other pid namespace, beat exactly its validity old", value: valid(NOW - 3000, elsewhere(200), 3000), table: {}, dead: false, statAsked: false },
    { name: "unreadable validity: our --dead-after", value: `${NOW - 4000}|${encodeIdentity(elsewhere(200))}|soon`, table: {}, dead: false, statAsked: false },
    // another pid namespace or boot: the pid means nothing here, only the beat's age counts
    { name: "other pid namespace, fresh beat, no such pid here", value: beat(FRESH, other(200, { pidns: "pid:[4026532999]" })), table: {}, dead: false, statAsked: false },
    { name: "other pid namespace, old beat, same pid running here", value: beat(OLD, other(200, { pidns: "pid:[4026532999]" })), table: running, dead: true, statAsked: false },
    { name: "other boot, fresh beat, no such pid here", value: beat(FRESH, other(200, { boot: "boot-b" })), table: {}, dead: false, statAsked: false },
    { name: "other boot, old beat", value: beat(OLD, other(200, { boot: "boot-b" })), table: running, dead: true, statAsked: false },
    // older workers wrote a bare number: beat age only
    { name: "old-format beat, fresh", value: String(FRESH), table: {}, dead: false, statAsked: false },
    { name: "old-format beat, old", value: String(OLD), table: running, dead: true, statAsked: false },
    { name: "old-format beat exactly --dead-after old", value: String(NOW - DEAD_AFTER), table: {}, dead: false, statAsked: false },
    { name: "identity with an empty field (unknown start): beat age only", value: `${FRESH}|200||${NS}|${BOOT}`, table: {}, dead: false, statAsked: false },
    { name: "unreadable beat value: no age at all, so dead", value: "garbage", table: running, dead: true, statAsked: false },
  ])("$name", ({ value, table, dead, statAsked }) => {
    const p = procs(table);
    expect(deadProcesses({ "host:200:x": value }, NOW, DEAD_AFTER, self, p.stat)).toEqual(dead ? ["host:200:x"] : []);
    expect(p.asked.length > 0).toBe(statAsked);
  });

  test("our own process is never dead, however old its beat or whatever /proc says", () => {
    const p = procs({});
    const beats = { [self.proc]: beat(0, me), "host:200:x": beat(FRESH, other(200)) };
    expect(deadProcesses(beats, NOW, DEAD_AFTER, self, p.stat)).toEqual(["host:200:x"]);
    expect(deadProcesses({ [self.proc]: "0" }, NOW, DEAD_AFTER, self, p.stat)).toEqual([]);
  });

  test("several processes at once: each judged on its own", () => {
    const p = procs({ 300: { state: "R", start: "7000" } });
    const beats = {
      "a:300:alive": beat(FRESH, other(300)),
      "a:301:gone": beat(FRESH, other(301)),
      "b:1:elsewhere-fresh": beat(FRESH, other(1, { boot: "boot-b" })),
      "b:1:elsewhere-old": beat(OLD, other(1, { boot: "boot-b" })),
    };
    expect(deadProcesses(beats, NOW, DEAD_AFTER, self, p.stat).sort()).toEqual(["a:301:gone", "b:1:elsewhere-old"]);
  });
});

describe("liveness", () => {
  test.each<{ name: string; other: Identity; self?: Identity; table: Record<number, ProcStat>; want: string }>([
    { name: "same boot and namespace, running", other: other(200), table: { 200: { state: "S", start: "7000" } }, want: "alive" },
    { name: "same boot and namespace, missing", other: other(200), table: {}, want: "dead" },
    { name: "zombie", other: other(200), table: { 200: { state: "Z", start: "7000" } }, want: "dead" },
    { name: "pid reused", other: other(200), table: { 200: { state: "S", start: "1" } }, want: "dead" },
    { name: "other namespace", other: other(200, { pidns: "pid:[1]" }), table: {}, want: "unknown" },
    { name: "other boot", other: other(200, { boot: "other" }), table: {}, want: "unknown" },
    { name: "our own boot unknown", other: other(200, { boot: "" }), self: { ...me, boot: "" }, table: {}, want: "unknown" },
    { name: "our own namespace unknown", other: other(200, { pidns: "" }), self: { ...me, pidns: "" }, table: {}, want: "unknown" },
    // ourselves: alive without asking /proc
    { name: "ourselves", other: { ...me }, table: {}, want: "alive" },
    { name: "stopped (SIGSTOP)", other: other(200), table: { 200: { state: "T", start: "7000" } }, want: "stopped" },
    { name: "running, however busy", other: other(200), table: { 200: { state: "R", start: "7000" } }, want: "alive" },
  ])("$name -> $want", ({ other: o, self: s, table, want }) => {
    expect(liveness(o, s ?? me, procs(table).stat)).toBe(want as "alive");
  });
});

describe("parseBeat", () => {
  test.each<[string, number, Identity | null]>([
    [`1234|200|7000|${NS}|${BOOT}`, 1234, { pid: 200, start: "7000", pidns: NS, boot: BOOT }],
    ["1234", 1234, null],
    ["1234|200|7000", 1234, null],
    [`1234|200||${NS}|${BOOT}`, 1234, null],
    ["", 0, null],
    ["not a number", 0, null],
  ])("%p", (value, ms, identity) => {
    expect(parseBeat(value)).toEqual({ ms, identity, validMs: null });
  });

  test.each<[string, number | null]>([
    [`1234|200|7000|${NS}|${BOOT}|3000`, 3000],
    [`1234|200|7000|${NS}|${BOOT}|`, null],
    [`1234|200|7000|${NS}|${BOOT}|0`, null],
    [`1234|200|7000|${NS}|${BOOT}|x`, null],
  ])("validity of %p", (value, validMs) => {
    expect(parseBeat(value).validMs).toBe(validMs);
  });

  test("encodeIdentity and parseBeat round-trip", () => {
    expect(parseBeat(`99|${encodeIdentity(me)}`)).toEqual({ ms: 99, identity: me, validMs: null });
  });
});

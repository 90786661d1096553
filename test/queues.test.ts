// Queue lists (reference sections 1-3): parsing, Resque's dynamic patterns, and the order one fetch visits them.
import { describe, expect, test } from "bun:test";
import { SettingsError } from "../src/errors";
import { fnmatch, idQueues, isDynamic, parseQueues, QueueOrder, resolveQueues, type QueueSpec } from "../src/queues";

const spec = (name: string, weight = 1, skip = false): QueueSpec => ({ name, weight, skip });

describe("parseQueues", () => {
  test.each<{ input: string[]; out: QueueSpec[] }>([
    { input: ["high"], out: [spec("high")] },
    { input: ["high,low"], out: [spec("high"), spec("low")] },
    { input: ["high", "low"], out: [spec("high"), spec("low")] },
    { input: [" high , ,low ", ""], out: [spec("high"), spec("low")] },
    { input: ["high=2,low=1"], out: [spec("high", 2), spec("low", 1)] },
    { input: ["high=10", "low"], out: [spec("high", 10), spec("low")] },
    { input: ["*,!low"], out: [spec("*"), spec("low", 1, true)] },
    { input: ["mail_*=3,!mail_spam"], out: [spec("mail_*", 3), spec("mail_spam", 1, true)] },
    { input: ["{high,low}"], out: [spec("{high"), spec("low}")] },
  ])("$input", ({ input, out }) => {
    expect(parseQueues(input)).toEqual(out);
  });

  test.each<{ input: string[]; message: RegExp }>([
    { input: ["high=x"], message: /weight of "high" must be a whole number >= 1, got "x"/ },
    { input: ["high=0"], message: /weight of "high" must be a whole number >= 1, got "0"/ },
    { input: ["low,high=-1"], message: /weight of "high" .* got "-1"/ },
    { input: ["high=1.5"], message: /weight of "high" .* got "1.5"/ },
    { input: ["high="], message: /weight of "high" .* got ""/ },
    { input: ["!=2"], message: /empty queue name in "!=2"/ },
    { input: ["!"], message: /empty queue name in "!"/ },
    { input: ["!low"], message: /only !skip/ },
    { input: ["!low,!high*"], message: /only !skip/ },
    { input: [""], message: /names no queue/ },
    { input: [" , "], message: /names no queue/ },
  ])("$input is refused", ({ input, message }) => {
    let err: unknown;
    try {
      parseQueues(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SettingsError);
    expect((err as Error).message).toStartWith("--queues");
    expect((err as Error).message).toMatch(message);
  });
});

describe("isDynamic and idQueues", () => {
  test.each([
    { input: "high,low", dynamic: false, id: "high,low" },
    { input: "high=2,low=1", dynamic: false, id: "high,low" },
    { input: "*", dynamic: true, id: "*" },
    { input: "mmm,*,!aaa", dynamic: true, id: "mmm,*" },
    { input: "h?gh", dynamic: true, id: "h?gh" },
    { input: "[hl]*", dynamic: true, id: "[hl]*" },
    { input: "{high,low}", dynamic: true, id: "{high,low}" },
    { input: "high,!low", dynamic: true, id: "high" },
  ])("$input", ({ input, dynamic, id }) => {
    const specs = parseQueues([input]);
    expect(isDynamic(specs)).toBe(dynamic);
    expect(idQueues(specs)).toBe(id);
  });
});

describe("fnmatch (Ruby File.fnmatch? without flags)", () => {
  test.each([
    ["*", "anything", true],
    ["*", "", true],
    ["*", "a/b/c", true], // no FNM_PATHNAME: * crosses /
    ["mail_*", "mail_out", true],
    ["mail_*", "mail_", true],
    ["mail_*", "xmail_out", false],
    ["*_low", "very_low", true],
    ["h?gh", "high", true],
    ["h?gh", "hgh", false],
    ["h?gh", "h/gh", true],
    ["[hl]*", "high", true],
    ["[hl]*", "low", true],
    ["[hl]*", "mid", false],
    ["[!h]*", "high", false],
    ["[!h]*", "low", true],
    ["[^h]*", "high", false],
    ["[a-c]x", "bx", true],
    ["[a-c]x", "dx", false],
    ["{high,low}", "high", false], // no FNM_EXTGLOB: braces are literal
    ["{high,low}", "low", false],
    ["{high,low}", "{high,low}", true],
    ["a.b", "a.b", true], // regex metacharacters are literal
    ["a.b", "axb", false],
    ["a+", "aa", false],
    ["(x)|y", "(x)|y", true],
    ["$^", "$^", true],
    ["high", "high", true],
    ["high", "high2", false],
    ["high", "HIGH", false], // case-sensitive
    ["\\[1\\]", "[1]", true], // a backslash escapes the next character
    ["\\*", "*", true],
    ["\\*", "x", false],
    ["[a", "[a", false], // an unclosed bracket never matches, as in Ruby
  ] as const)("%p vs %p -> %p", (pattern, text, match) => {
    expect(fnmatch(pattern, text)).toBe(match);
  });
});

describe("resolveQueues", () => {
  const names = (specs: QueueSpec[]) => specs.map((s) => s.name);
  const resolve = (patterns: string[], known: string[]) => names(resolveQueues(parseQueues(patterns), known));

  test.each<{ patterns: string[]; known: string[]; out: string[] }>([
    // reference section 3
    { patterns: ["notinset", "*"], known: ["c", "a", "b"], out: ["a", "b", "c"] },
    { patterns: ["c", "*"], known: ["b", "c", "a"], out: ["c", "a", "b"] },
    { patterns: ["*", "!high*"], known: ["low", "high_a", "mid", "high"], out: ["low", "mid"] },
    { patterns: ["high*"], known: ["low", "high_b", "high", "high_a"], out: ["high", "high_a", "high_b"] },
    { patterns: ["h?gh"], known: ["high", "hgh", "haigh", "hxgh"], out: ["high", "hxgh"] },
    { patterns: ["[hl]*"], known: ["mid", "low", "high"], out: ["high", "low"] },
    { patterns: ["{high,low}"], known: ["high", "low"], out: [] },
    { patterns: ["mmm", "*", "!aaa"], known: ["aaa", "zzz", "mmm", "bbb"], out: ["mmm", "bbb", "zzz"] },
    { patterns: ["b*", "a*", "*"], known: ["c", "a2", "b1", "a1"], out: ["b1", "a1", "a2", "c"] },
    { patterns: ["*"], known: [], out: [] },
    // static lists: every queue as given, in order, whether or not it is in the set
    { patterns: ["low", "high"], known: [], out: ["low", "high"] },
    { patterns: ["low", "high"], known: ["other"], out: ["low", "high"] },
  ])("$patterns over $known", ({ patterns, known, out }) => {
    expect(resolve(patterns, known)).toEqual(out);
  });

  test("a pattern's weight goes to each queue it matches; the first matching pattern wins", () => {
    expect(resolveQueues(parseQueues(["high*=3", "*"]), ["low", "high_a", "high"])).toEqual([spec("high", 3), spec("high_a", 3), spec("low", 1)]);
  });

  test("does not modify the known list it is given", () => {
    const known = ["c", "a", "b"];
    resolveQueues(parseQueues(["*"]), known);
    expect(known).toEqual(["c", "a", "b"]);
  });
});

describe("QueueOrder", () => {
  const firsts = (o: QueueOrder, n: number) => Array.from({ length: n }, () => o.next()[0] as number);

  test("without weights: strict priority, the order given, on every call", () => {
    const o = new QueueOrder(parseQueues(["high,mid,low"]));
    for (let i = 0; i < 50; i++) expect(o.next()).toEqual([0, 1, 2]);
    expect(o.queues.map((q) => q.name)).toEqual(["high", "mid", "low"]);
  });

  test("has and among: the named queues it holds, in priority order, whatever order they are named in", () => {
    const o = new QueueOrder(parseQueues(["high,mid,low"]));
    expect(o.has("mid")).toBe(true);
    expect(o.has("other")).toBe(false);
    expect(o.among(new Set(["low", "other", "high"]))).toEqual(["high", "low"]);
    expect(o.among(["mid"])).toEqual(["mid"]);
    expect(o.among([])).toEqual([]);
  });

  test("a single weighted queue and an empty list", () => {
    expect(new QueueOrder(parseQueues(["only=5"])).next()).toEqual([0]);
    expect(new QueueOrder([]).next()).toEqual([]);
  });

  test("weights 2:1 over 300 calls: queue 0 first exactly 200 times, never 3 times in a row", () => {
    const o = new QueueOrder(parseQueues(["high=2,low=1"]));
    const seq = Array.from({ length: 300 }, () => o.next());
    for (const order of seq) expect([...order].sort()).toEqual([0, 1]); // every call visits every queue once
    const first = seq.map((s) => s[0]);
    expect(first.filter((q) => q === 0)).toHaveLength(200);
    expect(first.join("")).not.toContain("000");
    expect(first.join("")).not.toContain("11"); // smooth: the light queue is spread out
  });

  test("weights 3:2:1: every window of one full cycle (6 calls) puts each queue first in proportion", () => {
    const o = new QueueOrder(parseQueues(["a=3,b=2,c=1"]));
    const first = firsts(o, 600);
    for (let start = 0; start + 6 <= first.length; start++) {
      const window = first.slice(start, start + 6);
      expect([0, 1, 2].map((q) => window.filter((x) => x === q).length)).toEqual([3, 2, 1]);
    }
  });

  test("equal weights other than 1 alternate round-robin", () => {
    const o = new QueueOrder(parseQueues(["a=2,b=2"]));
    expect(firsts(o, 6)).toEqual([0, 1, 0, 1, 0, 1]);
  });

  test("after the pick, the rest follow in descending weight, ties in the order given", () => {
    const o = new QueueOrder(parseQueues(["light=1,heavy=3,mid=2,mid2=2"]));
    for (const order of Array.from({ length: 16 }, () => o.next())) {
      const [, ...rest] = order;
      const weights = rest.map((i) => (o.queues[i] as QueueSpec).weight);
      expect(weights).toEqual([...weights].sort((x, y) => y - x));
      const ties = rest.filter((i) => i === 2 || i === 3);
      expect(ties).toEqual([...ties].sort());
    }
  });

  test("weights 5:1: the heavy queue is first 5 times per cycle of 6, and the light one is never starved", () => {
    const o = new QueueOrder(parseQueues(["big=5,small=1"]));
    const first = firsts(o, 60);
    for (let start = 0; start < 60; start += 6) expect(first.slice(start, start + 6).filter((q) => q === 1)).toHaveLength(1);
  });
});

// Issue #3: `bun run build` makes one executable that carries the runtime and every job module of jobs/. The
// binary is copied away from the repo and run with an empty environment (no bun on PATH), against the real
// Redis; the build refuses job sets that would not load and never leaves a binary behind when it does.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { client, dropNamespace, freshNamespace, REDIS_URL, waitFor } from "./helpers/redis";
import { MAIN_WORKER, spawnWorker, type WorkerProcess } from "./helpers/worker-process";

const ROOT = new URL("..", import.meta.url).pathname;
const INDEX = `${ROOT}src/index.ts`;

let tmp: string;
let bin: string;
let c: RedisClient;
let ns: string;
const running: WorkerProcess[] = [];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string[], cwd = ROOT): Run {
  const p = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

const build = (...args: string[]) => run([process.execPath, `${ROOT}build.ts`, ...args]);

/** The shipped binary, with an empty environment: nothing from this machine's bun or shell can help it. */
const runBinary = (args: string[], cwd: string) => run(["env", "-i", bin, ...args], cwd);

function startBinary(args: string[], cwd: string): WorkerProcess {
  const w = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, ...args], { cmd: ["env", "-i", bin], cwd });
  running.push(w);
  return w;
}

function freshDir(name: string): string {
  const dir = join(tmp, `${name}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "bunworker-build-"));
  const built = join(tmp, "out", "bunworker");
  const r = build(`--outfile=${built}`);
  if (r.code !== 0) throw new Error(`build failed (${r.code}):\n${r.stdout}${r.stderr}`);
  // Shipped the way a deploy would: the file alone, somewhere else; the build directory is gone.
  bin = join(freshDir("ship"), "bunworker");
  copyFileSync(built, bin);
  chmodSync(bin, 0o755);
  rmSync(join(tmp, "out"), { recursive: true, force: true });
}, 120_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  c = client();
  ns = freshNamespace();
});

afterEach(async () => {
  for (const w of running.splice(0)) {
    w.signal("SIGKILL");
    await w.exited;
  }
  await dropNamespace(c, ns);
  c.close();
});

describe("the compiled binary", () => {
  test("runs jobs/ jobs without bun or an environment and keeps Resque's records", async () => {
    const queue = "bin";
    const greet = '{"class":"Greet","args":["Ada"]}';
    const charge = '{"class":"ChargeCard","args":[500]}';
    const declined = '{"class":"ChargeCard","args":[20000]}';
    const count = '{"class":"WordCount","args":["one two three"]}';
    const w = startBinary([`--queues=${queue}`], freshDir("cwd"));
    await w.waitForOutput(/started/);
    await c.rpush(`${ns}queue:${queue}`, greet, charge, declined, count);
    await waitFor(async () => (await c.get(`${ns}stat:processed`)) === "4", 10_000, "4 processed jobs");
    w.signal("SIGTERM");
    expect(await w.exited).toBe(0);

    expect(w.output()).toContain("hello, Ada");
    expect(w.output()).toContain("charged 500 cents");
    expect(await c.get(`${ns}stat:failed`)).toBe("1");
    const failed = await c.lrange(`${ns}failed`, 0, -1);
    expect(failed).toHaveLength(1);
    const raw = failed[0] as string;
    expect(raw).toContain(`,"payload":${declined},"exception":`);
    const entry = JSON.parse(raw) as { exception: string; error: string; queue: string; backtrace: string[] };
    expect(entry.exception).toBe("PaymentDeclined");
    expect(entry.error).toBe("card declined for 20000 cents");
    expect(entry.queue).toBe(queue);
    // The source map is embedded: the backtrace names the job's source file, not the bundle.
    expect(entry.backtrace[0]).toContain("flaky-payment.ts");
    // WordCount writes through the shared client: redis() works inside the binary too.
    expect(await c.hget(`${ns}demo:word-counts`, "one two three")).toBe("3");

    expect(await c.scard(`${ns}workers`)).toBe(0);
    expect(await c.keys(`${ns}worker:*`)).toEqual([]);
  });

  test("ignores jobs/ (and a bunfig.toml preload) in its working directory", async () => {
    const cwd = freshDir("evil");
    const marker = join(cwd, "evil-was-loaded");
    mkdirSync(join(cwd, "jobs"));
    writeFileSync(join(cwd, "jobs", "evil.ts"), [
      `import { writeFileSync } from "node:fs";`,
      `import { register } from ${JSON.stringify(INDEX)};`,
      `writeFileSync(${JSON.stringify(marker)}, "loaded");`,
      `register("Evil", () => {});`,
    ].join("\n"));
    writeFileSync(join(cwd, "bunfig.toml"), `preload = ["./jobs/evil.ts"]\n`);

    const listed = runBinary(["--list-jobs"], cwd);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split("\n")).not.toContain("Evil");

    const evil = '{"class":"Evil","args":[]}';
    const w = startBinary(["--queues=evil"], cwd);
    await w.waitForOutput(/started/);
    await c.rpush(`${ns}queue:evil`, evil);
    await waitFor(async () => (await c.get(`${ns}stat:processed`)) === "1", 10_000, "the Evil job processed");
    w.signal("SIGTERM");
    expect(await w.exited).toBe(0);

    const entry = JSON.parse((await c.lindex(`${ns}failed`, 0)) as string) as { exception: string; payload: unknown };
    expect(entry.exception).toBe("UnknownJobError");
    expect(entry.payload).toEqual(JSON.parse(evil));
    expect(existsSync(marker)).toBe(false);
  });

  test("--version names package.json's version and the commit; --list-jobs names the classes of jobs/", async () => {
    const cwd = freshDir("info");
    const pkg = (await Bun.file(`${ROOT}package.json`).json()) as { version: string };
    const version = runBinary(["--version"], cwd);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(new RegExp(`^bunworker ${pkg.version.replace(/\./g, "\\.")} \\([0-9a-f]{7,}(-dirty)?\\)\\n$`));

    const listed = runBinary(["--list-jobs"], cwd);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split("\n").filter(Boolean)).toEqual(expect.arrayContaining(["ChargeCard", "Greet", "WordCount"]));
    // The very list `bun worker.ts` loads from source: the build bundled the same discovery.
    expect(listed.stdout).toBe(run([process.execPath, MAIN_WORKER, "--list-jobs"]).stdout);
  });
});

describe("the compiled binary's operator commands (#18)", () => {
  test("info, failed requeue, enqueue and queues work as from source", async () => {
    const cwd = freshDir("ops");
    const redis = [`--uri=${REDIS_URL}`, `--namespace=${ns}`];
    await c.send("RPUSH", [`${ns}failed`, '{"failed_at":"2026/11/27 04:18:30 UTC","payload":{"class":"Greet","args":[18446744073709551616]},"exception":"E","error":"e","backtrace":[],"worker":"w","queue":"q"}']);
    const info = runBinary(["info", ...redis], cwd);
    expect(info.code).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ failed: 1 });
    expect(runBinary(["failed", "requeue", "0", ...redis], cwd).code).toBe(0);
    expect(runBinary(["enqueue", "q", "Greet", '["Ada"]', ...redis], cwd).code).toBe(0);
    expect(await c.send("LRANGE", [`${ns}queue:q`, "0", "-1"])).toEqual(['{"class":"Greet","args":[18446744073709551616]}', '{"class":"Greet","args":["Ada"]}']);
    expect(JSON.parse(runBinary(["queues", ...redis], cwd).stdout)).toEqual([{ name: "q", size: 2, oldestAge: null }]);
  });
});

describe("the build refuses", () => {
  /** A jobs directory of `files` (name -> source), and an outfile that already holds a stale binary. */
  function setUp(files: Record<string, string>): { jobs: string; out: string } {
    const jobs = freshDir("jobs");
    for (const [name, source] of Object.entries(files)) writeFileSync(join(jobs, name), `import { register } from ${JSON.stringify(INDEX)};\n${source}\n`);
    const out = join(freshDir("dist"), "bunworker");
    writeFileSync(out, "a stale binary from an earlier build");
    return { jobs, out };
  }

  test("two job modules that register the same class, and leaves no binary", () => {
    const { jobs, out } = setUp({ "a.ts": `register("Same", () => {});`, "b.ts": `register("Same", () => {});` });
    const r = build(`--jobs=${jobs}`, `--outfile=${out}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('job class "Same" is registered twice');
    expect(r.stderr).toContain(join(jobs, "b.ts"));
    expect(existsSync(out)).toBe(false);
  });

  test("a job module with a syntax error, naming the file, and leaves no binary", () => {
    const { jobs, out } = setUp({ "good.ts": `register("Good", () => {});`, "broken.ts": `register("Broken", () => { let x = ; });` });
    const r = build(`--jobs=${jobs}`, `--outfile=${out}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("do not load");
    expect(r.stderr).toContain(`${join(jobs, "broken.ts")}:2:`);
    expect(existsSync(out)).toBe(false);
  });

  test("two job modules whose error classes share a name (the bundle would rename one)", () => {
    const source = (cls: string) => `class Declined extends Error {}\nregister(${JSON.stringify(cls)}, () => { throw new Declined("no"); });`;
    const { jobs, out } = setUp({ "a.ts": source("A"), "b.ts": source("B") });
    const r = build(`--jobs=${jobs}`, `--outfile=${out}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("class Declined");
    expect(r.stderr).toContain("Declined2");
    expect(existsSync(out)).toBe(false);
  });

  test("an unknown flag, with exit status 2 and the usage line", () => {
    const r = build("--bogus");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("usage: bun run build");
  });
});

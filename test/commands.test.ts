// The operator subcommands (#18) as a user runs them, as real processes against real Redis, on Resque's own
// bytes (reference sections 1 and 4): JSON when piped, aligned tables within 80 columns on a terminal.
import { describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { MAIN_WORKER } from "./helpers/worker-process";
import { isolate, REDIS_URL } from "./helpers/redis";
import { SUBCOMMANDS } from "../src/commands/dispatch";
import { SUBCOMMAND_NAMES } from "../src/commands/names";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([process.execPath, MAIN_WORKER, ...args, `--namespace=${ns}`], { stdout: "pipe", stderr: "pipe", env: { ...process.env, REDIS_URL } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

/** Runs under a pseudo-terminal (util-linux script), as an operator at a terminal would. */
async function tty(args: string[]): Promise<string> {
  const line = [process.execPath, MAIN_WORKER, ...args, `--namespace=${ns}`].map((a) => `'${a}'`).join(" ");
  const p = Bun.spawn(["script", "-qec", line, "/dev/null"], { stdout: "pipe", stderr: "pipe", env: { ...process.env, REDIS_URL, COLUMNS: "80" } });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  expect(code).toBe(0);
  return out.replace(/\r\n/g, "\n");
}

// Resque 3.0's bytes, from the reference (section 4 entry; section 1 worker state, started, heartbeat).
const RUBY_FAILURE = `{"failed_at":"2026/11/27 04:18:30 UTC","payload":{"class":"FailJob","args":["from raw rpush"]},"exception":"ArgumentError","error":"boom: [\\"from raw rpush\\"] ünïcödé","backtrace":["resque_client.rb:70:in \`perform'"],"worker":"vm:8025:fixtures,handwritten,failing,hooks","queue":"handwritten"}`;
const BIG_FAILURE = `{"failed_at":"2026/11/27 04:18:31 UTC","payload":{"class":"BigJob","args":[18446744073709551616,1.0e+20,{"k":"v"}],"jid":"x"},"exception":"RuntimeError","error":"no","backtrace":[],"worker":"vm:1:big","queue":"big"}`;
const GO_FAILURE = `{"failed_at":"2026-11-27T04:17:14.123456789Z","payload":{"class":"GoJob","args":[1]},"exception":"Error","error":"go","backtrace":null,"worker":"vm:9-0:go","queue":"go"}`;

async function seedFailed(entries: string[]): Promise<void> {
  await c.send("RPUSH", [`${ns}failed`, ...entries]);
}

const json = <T>(out: string): T => JSON.parse(out) as T;

describe("info", () => {
  test("reports what Resque.info does: pending over the queues set, failed = LLEN failed, working from worker:<id>", async () => {
    await c.send("SADD", [`${ns}queues`, "a", "b"]);
    await c.send("RPUSH", [`${ns}queue:a`, '{"class":"X","args":[]}', '{"class":"X","args":[]}']);
    await c.send("RPUSH", [`${ns}queue:b`, '{"class":"Y","args":[]}']);
    await c.send("RPUSH", [`${ns}queue:notinset`, '{"class":"Y","args":[]}']);
    await c.send("SET", [`${ns}stat:processed`, "41"]);
    await c.send("SADD", [`${ns}workers`, "vm:8430:*", "vm:8431:a"]);
    await c.send("SET", [`${ns}worker:vm:8430:*`, '{"queue":"a","run_at":"2026-11-27T04:18:29Z","payload":{"class":"X","args":[]}}']);
    await seedFailed([RUBY_FAILURE, GO_FAILURE]);
    const r = await cli(["info"]);
    expect(r.code).toBe(0);
    expect(json(r.out)).toMatchObject({ pending: 3, processed: 41, queues: 2, workers: 2, working: 1, failed: 2, environment: expect.any(String) });
  });
});

describe("queues", () => {
  test("sizes and the oldest item's age when the payload carries enqueued_at (ActiveJob), else null", async () => {
    const old = new Date(Date.now() - 600_000).toISOString().slice(0, 19) + "Z";
    await c.send("SADD", [`${ns}queues`, "aj", "plain", "empty"]);
    await c.send("RPUSH", [`${ns}queue:aj`, `{"class":"ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper","args":[{"job_class":"HelloJob","enqueued_at":"${old}"}]}`]);
    await c.send("RPUSH", [`${ns}queue:plain`, '{"class":"X","args":[]}', '{"class":"X","args":[]}']);
    const rows = json<{ name: string; size: number; oldestAge: number | null }[]>((await cli(["queues", "--sort=size"])).out);
    expect(rows.map((r) => [r.name, r.size])).toEqual([["plain", 2], ["aj", 1], ["empty", 0]]);
    expect(rows[1]?.oldestAge).toBeGreaterThanOrEqual(590);
    expect(rows[1]?.oldestAge).toBeLessThan(700);
    expect(rows[0]?.oldestAge).toBeNull();
  });

  test("a table within 80 columns on a terminal", async () => {
    await c.send("SADD", [`${ns}queues`, "a-very-long-queue-name-".repeat(6)]);
    const out = await tty(["queues"]);
    expect(out).toContain("QUEUE");
    expect(out).not.toContain("reading queues");
    for (const line of out.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
  });

  test("over 1,000 queues: progress on a terminal, none when piped", async () => {
    await c.send("SADD", [`${ns}queues`, ...Array.from({ length: 1200 }, (_, i) => `q${i}`)]);
    expect(await tty(["queues", "--json"])).toContain("reading queues 1200/1200");
    const piped = await cli(["queues"]);
    expect(piped.err).toBe("");
    expect(json<unknown[]>(piped.out)).toHaveLength(1200);
  });

  test("an unreachable Redis: one line naming it, status 1", async () => {
    const r = await cli(["queues", "--uri=redis://127.0.0.1:1/"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^bunworker queues: cannot reach Redis at redis:\/\/127\.0\.0\.1:1\/: [^\n]+\n$/);
  });

  test("--sort refuses other values with the usage line and status 2", async () => {
    const r = await cli(["queues", "--sort=age"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--sort must be name or size");
    expect(r.err).toContain("usage: bunworker queues");
  });
});

describe("workers", () => {
  test("Ruby, goworker and bunworker ids: host, state, job, heartbeat age, dead when the beat is old", async () => {
    const fresh = new Date().toISOString();
    await c.send("SADD", [`${ns}workers`, "vm:8430:high,low", "vm:9-0:go", "old:77:*"]);
    await c.send("SET", [`${ns}worker:vm:8430:high,low`, '{"queue":"high","run_at":"2026-11-27T04:18:29Z","payload":{"class":"EchoJob","args":[]}}']);
    await c.send("SET", [`${ns}worker:vm:8430:high,low:started`, "2026-11-27 04:18:29 +0000"]);
    await c.send("SET", [`${ns}worker:vm:9-0:go:started`, "2026-11-27 04:17:14.123456789 +0000 UTC m=+0.001234567"]);
    await c.send("HSET", [`${ns}workers:heartbeat`, "vm:8430:high,low", fresh, "old:77:*", "2000-01-01T00:00:00+00:00"]);
    const rows = json<{ id: string; host: string; pid: string; state: string; job: { class: string } | null; heartbeatAge: number | null; dead: boolean; since: number | null }[]>((await cli(["workers"])).out);
    const by = Object.fromEntries(rows.map((r) => [r.id, r]));
    expect(by["vm:8430:high,low"]).toMatchObject({ host: "vm", pid: "8430", state: "working", job: { class: "EchoJob" }, dead: false });
    expect(by["vm:8430:high,low"]?.heartbeatAge).toBeLessThan(30);
    expect(by["vm:9-0:go"]).toMatchObject({ host: "vm", pid: "9-0", state: "idle", heartbeatAge: null, dead: false });
    expect(by["vm:9-0:go"]?.since).toBeGreaterThan(0);
    expect(by["old:77:*"]).toMatchObject({ dead: true });
    const table = await tty(["workers"]);
    expect(table).toContain("DEAD");
    for (const line of table.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
  });
});

describe("failed", () => {
  test("list: newest first, filters by queue, class and exception; Ruby and goworker entries both read", async () => {
    await seedFailed([RUBY_FAILURE, BIG_FAILURE, GO_FAILURE]);
    const all = json<{ total: number; entries: { index: number; class: string }[] }>((await cli(["failed", "list"])).out);
    expect(all.total).toBe(3);
    expect(all.entries.map((e) => [e.index, e.class])).toEqual([[2, "GoJob"], [1, "BigJob"], [0, "FailJob"]]);
    const byQueue = json<{ matching: number; entries: { class: string }[] }>((await cli(["failed", "list", "--queue=handwritten"])).out);
    expect(byQueue.matching).toBe(1);
    expect(byQueue.entries[0]?.class).toBe("FailJob");
    expect(json<{ matching: number }>((await cli(["failed", "list", "--exception", "Error"])).out).matching).toBe(1);
    expect(json<{ matching: number }>((await cli(["failed", "list", "--class=BigJob", "--queue=big"])).out).matching).toBe(1);
    const table = await tty(["failed", "list"]);
    expect(table).toContain("ArgumentError");
    for (const line of table.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
  });

  test("show: the whole entry with its backtrace", async () => {
    await seedFailed([RUBY_FAILURE]);
    const e = json<{ backtrace: string[]; error: string; raw: string }>((await cli(["failed", "show", "0"])).out);
    expect(e.backtrace).toEqual(["resque_client.rb:70:in `perform'"]);
    expect(e.error).toBe('boom: ["from raw rpush"] ünïcödé');
    expect(e.raw).toBe(RUBY_FAILURE);
    expect((await cli(["failed", "show", "5"])).code).toBe(1);
    // On a terminal: every line within 80 columns, long messages and frames broken, not cut.
    await seedFailed([RUBY_FAILURE.replace('"error":"boom', `"error":"${"long ".repeat(40)}boom`).replace("resque_client.rb:70", `${"deep/".repeat(30)}x.rb:1`)]);
    const out = await tty(["failed", "show", "1"]);
    for (const line of out.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
    expect(out.replace(/\n\s*/g, "")).toContain(`${"deep/".repeat(30)}x.rb:1`);
    expect(out).toContain("boom");
  });

  test("requeue N: retried_at appended in Resque's format, entry stays, {class,args} pushed with bytes kept, extra keys dropped", async () => {
    await seedFailed([RUBY_FAILURE, BIG_FAILURE]);
    const r = await cli(["failed", "requeue", "1"]);
    expect(json<{ requeued: number }>(r.out).requeued).toBe(1);
    const entry = (await c.send("LINDEX", [`${ns}failed`, "1"])) as string;
    expect(entry).toMatch(/^\{"failed_at":"2026\/11\/27 04:18:31 UTC",.*"queue":"big","retried_at":"\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d UTC"\}$/);
    expect(entry.startsWith(BIG_FAILURE.slice(0, -1))).toBe(true);
    expect(await c.send("LRANGE", [`${ns}queue:big`, "0", "-1"])).toEqual(['{"class":"BigJob","args":[18446744073709551616,1.0e+20,{"k":"v"}]}']);
    expect(await c.send("SISMEMBER", [`${ns}queues`, "big"])).toBe(1);
    // Again: retried_at is replaced in place, not appended twice (Ruby's Hash keeps the key's position).
    await cli(["failed", "requeue", "1"]);
    const again = (await c.send("LINDEX", [`${ns}failed`, "1"])) as string;
    expect(again.match(/retried_at/g)?.length).toBe(1);
    expect(await c.send("LLEN", [`${ns}queue:big`])).toBe(2);
    expect(await c.send("LLEN", [`${ns}failed`])).toBe(2);
  });

  test("requeue of a goworker entry (backtrace null, RFC 3339 failed_at) works as Resque's does", async () => {
    await seedFailed([GO_FAILURE]);
    expect((await cli(["failed", "requeue", "0"])).code).toBe(0);
    expect(await c.send("LRANGE", [`${ns}queue:go`, "0", "-1"])).toEqual(['{"class":"GoJob","args":[1]}']);
  });

  test("remove N removes that entry only", async () => {
    await seedFailed([RUBY_FAILURE, BIG_FAILURE, GO_FAILURE]);
    expect(json<{ removed: number }>((await cli(["failed", "remove", "1"])).out).removed).toBe(1);
    expect(await c.send("LRANGE", [`${ns}failed`, "0", "-1"])).toEqual([RUBY_FAILURE, GO_FAILURE]);
  });

  test("requeue --all and remove --all with filters; clear with and without filters; counts reported", async () => {
    await seedFailed([RUBY_FAILURE, BIG_FAILURE, GO_FAILURE, BIG_FAILURE]);
    expect(json<{ requeued: number }>((await cli(["failed", "requeue", "--all", "--class=BigJob"])).out).requeued).toBe(2);
    expect(await c.send("LLEN", [`${ns}queue:big`])).toBe(2);
    expect(await c.send("LLEN", [`${ns}queue:go`])).toBe(0);
    expect(json<{ removed: number }>((await cli(["failed", "remove", "--all", "--queue=big"])).out).removed).toBe(2);
    expect(await c.send("LRANGE", [`${ns}failed`, "0", "-1"])).toEqual([RUBY_FAILURE, GO_FAILURE]);
    expect(json<{ removed: number }>((await cli(["failed", "clear", "--exception=Error"])).out).removed).toBe(1);
    expect(json<{ removed: number }>((await cli(["failed", "clear"])).out).removed).toBe(1);
    expect(await c.send("EXISTS", [`${ns}failed`])).toBe(0);
  });

  test("requeue --all over 1,000 entries: progress on a terminal, none when piped", async () => {
    await seedFailed(Array.from({ length: 1500 }, () => GO_FAILURE));
    const shown = await tty(["failed", "requeue", "--all"]);
    expect(shown).toContain("requeueing 1500/1500");
    expect(shown).toContain("requeued 1500 failed jobs");
    const piped = await cli(["failed", "requeue", "--all"]);
    expect(piped.err).toBe("");
    expect(json<{ requeued: number }>(piped.out).requeued).toBe(1500);
  });

  test("bad use: a filter without --all, INDEX with --all, an unknown flag or subcommand: one line, usage, status 2", async () => {
    for (const args of [["failed", "requeue", "0", "--queue=x"], ["failed", "remove", "0", "--all"], ["failed", "list", "--bogus"], ["failed", "frob"], ["failed", "show", "x"]]) {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^bunworker failed[^\n]*: [^\n]+\nusage: bunworker failed/);
    }
  });
});

describe("enqueue", () => {
  test("writes what Resque.enqueue_to writes, args compact with their digits kept", async () => {
    const r = await cli(["enqueue", "mail", "Mailer", '[1, 18446744073709551616, {"a": 1.0}, "x y"]']);
    expect(r.code).toBe(0);
    expect(await c.send("LRANGE", [`${ns}queue:mail`, "0", "-1"])).toEqual(['{"class":"Mailer","args":[1,18446744073709551616,{"a":1.0},"x y"]}']);
    expect(await c.send("SMEMBERS", [`${ns}queues`])).toEqual(["mail"]);
    await cli(["enqueue", "mail", "NoArgs"]);
    const shown = await tty(["enqueue", "mail", "Long", JSON.stringify(["x".repeat(200)])]);
    for (const line of shown.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
    expect(shown).toContain("enqueued to mail:");
    expect(await c.send("LINDEX", [`${ns}queue:mail`, "1"])).toBe('{"class":"NoArgs","args":[]}');
  });

  test("ARGS_JSON that is not a JSON array is refused, nothing pushed", async () => {
    for (const bad of ['{"a":1}', "[1,", "nope"]) {
      const r = await cli(["enqueue", "mail", "Mailer", bad]);
      expect(r.code).toBe(2);
      expect(r.err).toContain("ARGS_JSON");
    }
    expect(await c.send("EXISTS", [`${ns}queue:mail`])).toBe(0);
  });
});

describe("web", () => {
  test("refuses a non-loopback address without a token; starts with one", async () => {
    const r = await cli(["web", "--host=0.0.0.0", "--port=0"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("refusing to listen on 0.0.0.0 without a token");
    const p = Bun.spawn([process.execPath, MAIN_WORKER, "web", "--host=0.0.0.0", "--port=0", `--namespace=${ns}`], { stdout: "pipe", stderr: "pipe", env: { ...process.env, REDIS_URL, BUNWORKER_WEB_TOKEN: "t0ken" } });
    try {
      const reader = p.stderr.getReader();
      const { value } = await reader.read();
      const line = new TextDecoder().decode(value);
      expect(line).toMatch(/dashboard on http:\/\/0\.0\.0\.0:\d+\/ \(token required\)/);
      const port = /:(\d+)\//.exec(line)?.[1];
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/`, { headers: { Authorization: "Bearer t0ken" } })).status).toBe(200);
    } finally {
      p.kill("SIGTERM");
      expect(await p.exited).toBe(0);
    }
  });
});

test("the names the worker checks first are exactly the commands", () => {
  expect(Object.keys(SUBCOMMANDS).sort()).toEqual([...SUBCOMMAND_NAMES].sort());
});

describe("help", () => {
  test("the worker's and every subcommand's help: no colour codes when piped, every line within 80 columns", async () => {
    for (const args of [["--help"], ["info", "--help"], ["queues", "--help"], ["workers", "--help"], ["failed", "--help"], ["failed", "requeue", "--help"], ["failed", "list", "--help"], ["enqueue", "--help"], ["web", "--help"]]) {
      const r = await cli(args);
      expect(r.code).toBe(0);
      expect(r.out).not.toContain("\u001b[");
      for (const line of r.out.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
    }
    const worker = (await cli(["--help"])).out;
    expect(worker).not.toContain("$$");
    expect(worker).toContain("$REDIS_PROVIDER");
    expect(worker).toContain("one EXISTS");
  });

  test("colour only on a terminal", async () => {
    const out = await tty(["--help"]);
    expect(out).toContain("\u001b[36m--queues");
  });
});

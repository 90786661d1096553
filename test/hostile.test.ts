// Issue #4: hostile input and hostile job code. The worker keeps running, each case ends as a clear failure
// entry (or, for a job that is fine, as a success), and nothing is lost.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { client, dropNamespace, freshNamespace, REDIS_URL } from "./helpers/redis";
import { spawnWorker, type WorkerProcess } from "./helpers/worker-process";

let c: RedisClient;
let ns: string;
let w: WorkerProcess;
let failures: Record<string, unknown>[];
let rawFailures: Buffer[];
const TEN_MB = "x".repeat(10 * 1024 * 1024);
const deep = "[".repeat(1000) + "]".repeat(1000);
const invalidUtf8 = Buffer.concat([Buffer.from('{"class":"Record","args":["'), Buffer.from([0xff, 0xfe, 0x41]), Buffer.from('"]}')]);

beforeAll(async () => {
  c = client();
  ns = freshNamespace();
  const q = `${ns}queue:hostile`;
  await c.send("RPUSH", [q, `{"class":"Size","args":["${TEN_MB}"]}`]);
  await c.send("RPUSH", [q, `{"class":"Fail","args":["big","${TEN_MB}"]}`]);
  await c.send("RPUSH", [q, `{"class":"Record","args":[${deep}]}`]);
  await c.send("RPUSH", [q, invalidUtf8 as unknown as string]); // send() takes bytes too; its type says string
  for (const cls of ["ThrowString", "ThrowNull", "Never", "Unhandled"]) await c.send("RPUSH", [q, `{"class":"${cls}","args":[]}`]);
  await c.send("RPUSH", [q, '{"class":"Record","args":["sentinel"]}']);
  w = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=hostile", "--concurrency=3", "--job-timeout=1", "--exit-on-complete"]);
  expect(await w.exited).toBe(0);
  // Bun decodes replies as UTF-8, which would hide invalid bytes: copy each entry to a string key and read raw bytes.
  rawFailures = [];
  for (let i = 0; i < (await c.llen(`${ns}failed`)); i++) {
    await c.send("EVAL", ["return redis.call('SET', KEYS[2], redis.call('LINDEX', KEYS[1], ARGV[1]))", "2", `${ns}failed`, `${ns}copy`, String(i)]);
    rawFailures.push((await c.getBuffer(`${ns}copy`)) as Buffer);
  }
  failures = rawFailures.map((b) => JSON.parse(b.toString()));
});
afterAll(async () => {
  await dropNamespace(c, ns);
  c.close();
});

const byClass = (cls: string) => failures.find((f) => (f.payload as { class?: string })?.class === cls);
/** A malformed item's failure keeps it as the one argument of a Bunworker::MalformedPayload job (issue #9). */
const rawItem = (f: Record<string, unknown>) => {
  const p = f.payload as { class?: string; args?: unknown[] };
  return p?.class === "Bunworker::MalformedPayload" && typeof p.args?.[0] === "string" ? (p.args[0] as string) : undefined;
};

describe("hostile input", () => {
  test("the worker survives all of it and runs the job queued after it", async () => {
    const ran = await c.lrange(`${ns}test:ran`, 0, -1);
    expect(ran).toContain('["sentinel"]');
    expect(await c.get(`${ns}stat:processed`)).toBe("9");
    expect(await c.llen(`${ns}queue:hostile`)).toBe(0);
    expect(await c.keys(`${ns}worker:*`)).toEqual([]);
  });

  test("a 10 MB payload runs, and a failing one keeps all 10 MB in its failure entry", async () => {
    expect(await c.lrange(`${ns}test:ran`, 0, -1)).toContain(`size:${TEN_MB.length}`);
    const f = byClass("Fail") as { payload: { args: string[] }; exception: string };
    expect(f.exception).toBe("RangeError");
    expect(f.payload.args[1]?.length).toBe(TEN_MB.length);
  });

  test("deep nesting fails clearly, keeping the raw item as a string Resque's tools can read", () => {
    const f = failures.find((x) => rawItem(x)?.startsWith('{"class":"Record","args":[[[')) as { payload: string; error: string; exception: string };
    expect(f.exception).toBe("MalformedPayloadError");
    expect(f.error).toContain("nests deeper than 100");
    expect(rawItem(f)).toBe(`{"class":"Record","args":[${deep}]}`);
  });

  test("invalid UTF-8 fails clearly; the entry is valid UTF-8 JSON and keeps every original byte", () => {
    const i = failures.findIndex((x) => rawItem(x) !== undefined && (x.error as string).includes("UTF-8"));
    expect(i).toBeGreaterThanOrEqual(0);
    expect(() => new TextDecoder("utf-8", { fatal: true }).decode(rawFailures[i])).not.toThrow();
    const kept = Buffer.from(rawItem(failures[i] as Record<string, unknown>) as string, "latin1");
    expect(kept.equals(invalidUtf8)).toBe(true);
  });
});

describe("hostile job code", () => {
  test("throwing a string or null becomes a failure entry named after the value's type", () => {
    expect(byClass("ThrowString")).toMatchObject({ exception: "String", error: "a plain string", backtrace: [] });
    expect(byClass("ThrowNull")).toMatchObject({ exception: "null", backtrace: [] });
  });

  test("a job that never settles fails with JobTimeoutError", () => {
    expect(byClass("Never")).toMatchObject({ exception: "JobTimeoutError" });
  });

  test("an unhandled rejection is logged and does not take the worker down", () => {
    expect(w.output()).toContain("unhandled rejection in job code: Error: floating rejection");
    expect(byClass("Unhandled")).toBeUndefined();
  });
});

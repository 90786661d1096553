// Issue #9, point 1, as the worker meets it: a queue key of the wrong type is skipped with an error naming it
// while the other queues are served; a stats key that cannot be counted stops the worker loudly, once, with
// the jobs it holds handed back: never a loop of jobs that run and cannot be recorded.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { registryWith, startWorker } from "./helpers/in-process";
import { REDIS_URL, isolate, waitFor } from "./helpers/redis";
import { spawnWorker } from "./helpers/worker-process";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

test("a queue of the wrong type is skipped with an error naming it; the other queues are served", async () => {
  await c.hset(`${ns}queue:wt`, "f", "v");
  await c.rpush(`${ns}queue:good`, '{"class":"J","args":["a"]}', '{"class":"J","args":["b"]}');
  const ran: string[] = [];
  const w = startWorker(registryWith({ J: (_q: string, t: string) => void ran.push(t) }), { namespace: ns, queues: ["wt", "good"], concurrency: 2 });
  await waitFor(() => ran.length === 2, 5000, "the good queue's jobs");
  await c.rpush(`${ns}queue:good`, '{"class":"J","args":["c"]}');
  await waitFor(() => ran.length === 3, 5000, "a job pushed later");
  const errors = w.logs.filter((l) => l.startsWith("error:") && l.includes(`${ns}queue:wt`));
  expect(errors.length).toBe(1);
  expect(errors[0]).toContain("not a list");
  expect(await c.hgetall(`${ns}queue:wt`)).toEqual({ f: "v" });
  w.launcher.stop();
  await w.done;
});

test("a stats counter that is not an integer stops the start: no job is taken, exit status 1, the key named", async () => {
  await c.set(`${ns}stat:processed`, "abc");
  await c.rpush(`${ns}queue:s`, '{"class":"Record","args":["never"]}');
  const w = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=s"]);
  expect(await w.exited).toBe(1);
  expect(w.output()).toContain(`${ns}stat:processed holds "abc", not an integer`);
  expect(await c.llen(`${ns}queue:s`)).toBe(1);
  expect(await c.llen(`${ns}test:ran`)).toBe(0);
  expect(await c.scard(`${ns}workers`)).toBe(0);
});

test("a stats counter broken while jobs run: the worker stops once and exits 1; the job it finished is kept, not handed back (#14)", async () => {
  const w = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=s", "--concurrency=2", "--shutdown-timeout=1"]);
  await w.waitForOutput(/started/);
  await c.rpush(`${ns}queue:s`, '{"class":"Record","args":["first"]}');
  await waitFor(async () => (await c.get(`${ns}stat:processed`)) === "1", 5000, "the first job's ack");
  await c.set(`${ns}stat:processed`, "not a number");
  await c.rpush(`${ns}queue:s`, '{"class":"Slow","args":[300,"second"]}');
  expect(await w.exited).toBe(1);
  expect(w.output()).toContain(`${ns}stat:processed is not an integer: fix or delete it; stopping`);
  // It ran once and could not be recorded: its outcome is kept for the next start, not handed back to run again.
  expect(await c.lrange(`${ns}test:ran`, 0, -1)).toEqual(['["first"]', "second"]);
  expect(await c.llen(`${ns}queue:s`)).toBe(0);
  const kept = (await c.lrange(`${ns}bunworker:outcomes`, 0, -1)) as string[];
  expect(kept.map((e) => JSON.parse(e) as unknown)).toEqual([{ outcome: "ok", worker: expect.any(String), queue: "s", payload: { class: "Slow", args: [300, "second"] } }]);
  expect(await c.scard(`${ns}workers`)).toBe(0);
  expect(await c.get(`${ns}stat:processed`)).toBe("not a number");
  // Fixed by hand: the next start counts it.
  await c.set(`${ns}stat:processed`, "1");
  const w2 = spawnWorker([`--uri=${REDIS_URL}`, `--namespace=${ns}`, "--queues=s", "--exit-on-complete"]);
  expect(await w2.exited).toBe(0);
  expect(await c.get(`${ns}stat:processed`)).toBe("2");
  expect(await c.lrange(`${ns}test:ran`, 0, -1)).toEqual(['["first"]', "second"]);
});

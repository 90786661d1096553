// Issue #9, point 5: resque:pause-all-workers set while a worker is idle, waiting on its queues. A Ruby worker
// under the same pause runs nothing; neither may we: not through a blocker's pickup, not through a lane.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { registryWith, startWorker } from "./helpers/in-process";
import { isolate, waitFor } from "./helpers/redis";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

test("a job pushed to an idle worker after pause-all-workers is set stays queued until the key is deleted", async () => {
  const ran: string[] = [];
  const w = startWorker(registryWith({ J: (_q: string, t: string) => void ran.push(t) }), { namespace: ns, queues: ["first", "second"], concurrency: 4 });
  await waitFor(async () => (await c.scard(`${ns}workers`)) === 4, 5000, "registration");
  // idle: both queues have a blocking wait with a pickup behind it
  await waitFor(async () => Number(/blocked_clients:(\d+)/.exec((await c.send("INFO", ["clients"])) as string)?.[1] ?? 0) >= 2, 5000, "blocking waits");
  await c.set(`${ns}pause-all-workers`, "true");
  await c.rpush(`${ns}queue:first`, '{"class":"J","args":["held"]}');
  await waitFor(() => w.logs.some((l) => /paused/.test(l)) || null, 5000, "the worker to notice the pause");
  // Whatever noticed the pause did so after the push: had anything taken the job, it would have run by now.
  expect(await c.lrange(`${ns}queue:first`, 0, -1)).toEqual(['{"class":"J","args":["held"]}']);
  expect(ran).toEqual([]);
  await c.del(`${ns}pause-all-workers`);
  await waitFor(() => ran.length === 1, 5000, "the job after the pause ends");
  w.launcher.stop();
  await w.done;
});

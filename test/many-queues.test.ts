// Issue #10: any number of queues. With 1,000 queues the worker still finds every job, learns new queues,
// keeps a bounded number of connections, is woken by keyspace notifications when the server has them, keeps
// Resque's priority order and the weights, and takes a job on a blocking queue through the pipelined pickup.
// Tests that count connections, commands or change server settings use a private redis-server.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { FOLLOW_KEEP_MS } from "../src/manager";
import { QueueOrder, parseQueues } from "../src/queues";
import { registryWith, startWorker, type InProcessWorker } from "./helpers/in-process";
import { client, dropNamespace, freshNamespace, isolate, startRedis, waitFor, type PrivateRedis } from "./helpers/redis";
import { spawnWorker } from "./helpers/worker-process";

const N = 1000;
/** q0000 .. q0999: alphabetical = numeric order. */
const padded = Array.from({ length: N }, (_, i) => `q${String(i).padStart(4, "0")}`);
const J = (tag: string) => `{"class":"J","args":["${tag}"]}`;

/** A worker whose J jobs record their tag in `ran`. */
function recording(settings: Parameters<typeof startWorker>[1]): InProcessWorker & { ran: string[] } {
  const ran: string[] = [];
  const w = startWorker(registryWith({ J: (_q: string, tag: string) => void ran.push(tag) }), settings);
  return Object.assign(w, { ran });
}

async function stopWorker(w: InProcessWorker): Promise<void> {
  w.launcher.stop();
  await w.done;
}

const info = async (c: RedisClient, section: string, field: RegExp): Promise<number> => Number(field.exec((await c.send("INFO", [section])) as string)?.[1] ?? 0);
const blocked = (c: RedisClient) => info(c, "clients", /blocked_clients:(\d+)/);

/** Registered (every slot), and idle: both lanes have made their first fetch and the blockers wait. */
async function idle(c: RedisClient, ns: string, slots = 25, lanes = 2, blockers = 3): Promise<string> {
  await waitFor(async () => (await c.scard(`${ns}workers`)) === slots, 10_000, "registration");
  const proc = await waitFor(async () => Object.keys(await c.hgetall(`${ns}bunworker:beats`))[0], 5000, "the process's beat");
  await waitFor(async () => (await c.hlen(`${ns}bunworker:lanes:${proc}`)) === lanes, 5000, "every lane's first fetch");
  await waitFor(async () => (await blocked(c)) >= blockers, 5000, `${blockers} blocking waits`);
  return proc;
}

describe("1,000 queues on the shared server", () => {
  let c: RedisClient;
  let ns: string;
  isolate((cl, namespace) => {
    c = cl;
    ns = namespace;
  });

  test("with *, a job pushed to the last queue (alphabetically) runs", async () => {
    await c.send("SADD", [`${ns}queues`, ...padded]);
    const w = recording({ namespace: ns, queues: ["*"], interval: 0.2 });
    try {
      await waitFor(async () => (await c.scard(`${ns}workers`)) === 25, 5000, "registration");
      await c.rpush(`${ns}queue:q0999`, J("last"));
      await waitFor(() => w.ran.length === 1, 5000, "the job on the last queue");
      expect(w.ran).toEqual(["last"]);
      expect(await c.llen(`${ns}queue:q0999`)).toBe(0);
    } finally {
      await stopWorker(w);
    }
  });

  test("a queue added to <ns>queues while the worker runs is served within --interval (0.2 s; bounded here at 3 s)", async () => {
    await c.send("SADD", [`${ns}queues`, ...padded]);
    const w = recording({ namespace: ns, queues: ["*"], interval: 0.2 });
    try {
      await waitFor(async () => (await c.scard(`${ns}workers`)) === 25, 5000, "registration");
      await c.rpush(`${ns}queue:zz-born-later`, J("new queue"));
      await c.sadd(`${ns}queues`, "zz-born-later");
      // the default --interval (5 s) would miss this bound
      await waitFor(() => w.ran.length === 1, 3000, "the job on the new queue");
      expect(w.ran).toEqual(["new queue"]);
    } finally {
      await stopWorker(w);
    }
  });
});

describe("priority order and weights with 1,000 non-empty queues (concurrency 1, connections 1)", () => {
  let c: RedisClient;
  let ns: string;
  isolate((cl, namespace) => {
    c = cl;
    ns = namespace;
  });

  async function fill(queues: string[], jobsOf: (q: string) => number = () => 1): Promise<void> {
    // pushed in reverse (pipelined), so that no order of arrival matches the order expected
    await Promise.all([...queues].reverse().map((q) => c.send("RPUSH", [`${ns}queue:${q}`, ...Array.from({ length: jobsOf(q) }, () => J(q))])));
  }

  async function drain(queues: string[]): Promise<string[]> {
    const w = recording({ namespace: ns, queues, concurrency: 1, connections: 1, exitOnComplete: true });
    await w.done;
    return w.ran;
  }

  test("* serves the queues in Resque's alphabetical order", async () => {
    // q0, q1, q10, q100, q101, ...: alphabetical, not numeric
    const names = Array.from({ length: N }, (_, i) => `q${i}`);
    await c.send("SADD", [`${ns}queues`, ...names]);
    await fill(names);
    expect(await drain(["*"])).toEqual([...names].sort());
  });

  test("an explicit list is served in the order given", async () => {
    // a fixed permutation of the padded names
    const names = padded.map((_, i) => padded[(i * 7919) % N] as string);
    expect(new Set(names).size).toBe(N);
    await fill(names);
    expect(await drain(names)).toEqual(names);
  });

  test("weights: over one round of the total weight, a heavy queue comes first as often as its weight, spread out", async () => {
    const list = padded.map((q, i) => (i === 0 ? `${q}=3` : i === 1 ? `${q}=2` : q));
    const weight = (q: string) => (q === "q0000" ? 3 : q === "q0001" ? 2 : 1);
    const total = N + 3;
    await fill(padded, weight);
    const ran = await drain(list);
    expect(ran).toHaveLength(total);
    // the smooth weighted round-robin of queues.ts, first pick of each fetch
    const order = new QueueOrder(parseQueues(list));
    expect(ran).toEqual(Array.from({ length: total }, () => padded[order.next()[0] as number] as string));
    // what that means, independently of how it is computed: without weights q0000's three jobs would run
    // first; with weight 3 they run once in each third of the round, and q0001's once in each half
    const at = (q: string) => ran.flatMap((r, i) => (r === q ? [i] : []));
    expect(at("q0000").map((i) => Math.floor((i * 3) / total))).toEqual([0, 1, 2]);
    expect(at("q0001").map((i) => Math.floor((i * 2) / total))).toEqual([0, 1]);
  });
});

describe("on a private redis-server", () => {
  let server: PrivateRedis;
  let c: RedisClient;
  let ns: string;

  beforeAll(async () => {
    server = await startRedis();
    c = client(server.url);
    // the test's own connection, left out when the worker's are counted
    await c.send("CLIENT", ["SETNAME", "test"]);
  });
  afterAll(async () => {
    c.close();
    await server.stop();
  });
  beforeEach(async () => {
    ns = freshNamespace();
    await c.send("CONFIG", ["SET", "notify-keyspace-events", ""]);
    await dropNamespace(c, ns);
  });

  const workerConnections = async () => ((await c.send("CLIENT", ["LIST"])) as string).split("\n").filter((l) => l.startsWith("id=") && !/ name=test /.test(l)).length;
  const subscribers = async () => {
    const reply = (await c.send("PUBSUB", ["NUMSUB", "__keyevent@0__:lpush", "__keyevent@0__:rpush", "__keyevent@0__:linsert"])) as unknown[] | Record<string, number>;
    const counts = Array.isArray(reply) ? reply.filter((_, i) => i % 2 === 1).map(Number) : Object.values(reply).map(Number);
    return Math.min(...counts);
  };
  const calls = (cmd: string) => info(c, "commandstats", new RegExp(`cmdstat_${cmd}:calls=(\\d+)`));
  const notifyFlags = async () => {
    const reply = (await c.send("CONFIG", ["GET", "notify-keyspace-events"])) as string[] | Record<string, string>;
    return Array.isArray(reply) ? String(reply[1]) : String(reply["notify-keyspace-events"]);
  };

  // The bound, from the code: lanes = min(--connections, --concurrency) (launcher.ts), one blocker per each of
  // the first min(--blocking-queues, queues) queues (manager.ts followBlockers), at most --follow-queues
  // followers once jobs came from other queues (manager.ts took), one notifier subscriber when notifications
  // are used (notifier.ts), the shared client job code gets through redis() (index.ts), and the promoter's
  // (promoter.ts, issue #17).
  // Defaults: --connections 2, --concurrency 25, --blocking-queues 3, --follow-queues 2.
  const bound = (queues: number, notifications: boolean, followers = 0) => Math.min(2, 25) + Math.min(3, queues) + followers + (notifications ? 1 : 0) + 1 + 1;

  describe("connections", () => {

    /** The most connections a child worker holds while it is idle and polls (SMEMBERS for `*`) a few times. */
    async function connectionsOf(queues: string, opts: { dynamic: boolean; notifications: boolean }): Promise<number> {
      const w = spawnWorker([`--queues=${queues}`, `--uri=${server.url}`, `--namespace=${ns}`, "--interval=0.1"]);
      try {
        await idle(c, ns);
        if (opts.notifications) await waitFor(async () => (await subscribers()) === 1, 5000, "the notifier's subscriptions");
        let most = 0;
        const polls = await calls("smembers");
        let samples = 0;
        await waitFor(async () => {
          most = Math.max(most, await workerConnections());
          samples++;
          return samples >= 5 && (!opts.dynamic || (await calls("smembers")) >= polls + 3);
        }, 10_000, "a few polls");
        return most;
      } finally {
        w.signal("SIGTERM");
        await w.exited;
        await waitFor(async () => (await workerConnections()) === 0, 5000, "the worker's connections to close");
      }
    }

    test("1,000 queues on * need no more connections than 3 listed queues", async () => {
      const listed = await connectionsOf("a,b,c", { dynamic: false, notifications: false });
      expect(listed).toBeLessThanOrEqual(bound(3, false));
      await c.send("SADD", [`${ns}queues`, ...padded]);
      const many = await connectionsOf("*", { dynamic: true, notifications: false });
      expect(many).toBeLessThanOrEqual(bound(N, false));
      expect(many).toBeLessThanOrEqual(listed + 2);
      // blockers and lanes really were connected: the count is not low because it was taken too early
      expect(many).toBeGreaterThanOrEqual(Math.min(2, 25) + 3);
    });

    test("jobs on 50 different queues open no more than --follow-queues followers", async () => {
      await c.send("CONFIG", ["SET", "notify-keyspace-events", "El"]);
      await c.send("SADD", [`${ns}queues`, ...padded]);
      const w = recording({ uri: server.url, namespace: ns, queues: ["*"], interval: 60 });
      try {
        await idle(c, ns);
        await waitFor(async () => (await subscribers()) === 1, 5000, "the notifier's subscriptions");
        let most = 0;
        for (let i = 0; i < 50; i++) {
          await c.rpush(`${ns}queue:${padded[100 + i * 10]}`, J(`j${i}`));
          await waitFor(() => w.ran.length === i + 1, 5000, `job ${i}`);
          most = Math.max(most, await workerConnections());
        }
        // the in-process worker's job client is never opened here (J does not call redis())
        expect(most).toBeLessThanOrEqual(bound(N, true, 2) - 1);
        expect(most).toBeGreaterThanOrEqual(Math.min(2, 25) + 3 + 1 + 1);
      } finally {
        await stopWorker(w);
      }
    });

    test("with keyspace notifications: one subscriber more, however many queues", async () => {
      await c.send("CONFIG", ["SET", "notify-keyspace-events", "El"]);
      await c.send("SADD", [`${ns}queues`, ...padded]);
      const many = await connectionsOf("*", { dynamic: true, notifications: true });
      expect(many).toBeLessThanOrEqual(bound(N, true));
      expect(many).toBeGreaterThanOrEqual(Math.min(2, 25) + 3 + 1);
    });
  });

  describe("keyspace notifications (--interval 60: a poll cannot find the job within these bounds)", () => {
    const settings = () => ({ uri: server.url, namespace: ns, queues: ["*"], interval: 60 });

    test("with El on the server, jobs pushed to queues in the middle run at once: only a notification can wake the worker", async () => {
      await c.send("CONFIG", ["SET", "notify-keyspace-events", "El"]);
      await c.send("SADD", [`${ns}queues`, ...padded]);
      const w = recording(settings());
      try {
        await idle(c, ns);
        await waitFor(async () => (await subscribers()) === 1, 5000, "the notifier's subscriptions");
        await c.rpush(`${ns}queue:q0500`, J("first"));
        await waitFor(() => w.ran.length === 1, 5000, "the first job");
        await waitFor(async () => (await c.get(`${ns}stat:processed`)) === "1", 5000, "its ack");
        // Idle again, long after the one look that follows subscribing: this one has nothing but the notification.
        await c.rpush(`${ns}queue:q0501`, J("second"));
        await waitFor(() => w.ran.length === 2, 5000, "the second job");
        expect(w.ran).toEqual(["first", "second"]);
      } finally {
        await stopWorker(w);
      }
    });

    test("without notifications (the server's default) and auto, the same job waits for the poll, and the server's setting is left alone", async () => {
      await c.send("SADD", [`${ns}queues`, ...padded]);
      const w = recording({ ...settings(), keyspaceNotifications: "auto" });
      try {
        await idle(c, ns);
        await c.rpush(`${ns}queue:q0500`, J("waits"));
        await expect(waitFor(() => w.ran.length > 0, 2000, "a job that should not run yet")).rejects.toThrow(/timed out/);
        expect(await c.llen(`${ns}queue:q0500`)).toBe(1);
        expect(await subscribers()).toBe(0);
        expect(await notifyFlags()).toBe("");
      } finally {
        await stopWorker(w);
      }
      expect(w.ran).toEqual([]);
    });

    test("pushes to a queue the patterns can never match (another pool's queue) cost no SMEMBERS and no fetch", async () => {
      // Workers serving different patterns often share one namespace: a busy queue of another pool must not
      // make this worker re-read all 1,000 names and run a fetch over all its queues at every push.
      await c.send("CONFIG", ["SET", "notify-keyspace-events", "El"]);
      await c.send("SADD", [`${ns}queues`, ...padded.map((q) => `mail_${q}`), "other"]);
      const w = recording({ ...settings(), queues: ["mail_*"] });
      try {
        const proc = await idle(c, ns);
        await waitFor(async () => (await subscribers()) === 1, 5000, "the notifier's subscriptions");
        const laneCalls = async () => Object.values(await c.hgetall(`${ns}bunworker:lanes:${proc}`)).map(Number).filter(Number.isInteger).reduce((a, b) => a + b, 0);
        const [refreshes, fetches] = [await calls("smembers"), await laneCalls()];
        for (let i = 0; i < 20; i++) await c.rpush(`${ns}queue:other`, J("not ours"));
        // A witness on a served queue, pushed after them: notifications arrive in order on one connection.
        await c.rpush(`${ns}queue:mail_q0500`, J("witness"));
        await waitFor(async () => (await c.get(`${ns}stat:processed`)) === "1", 5000, "the witness and its ack");
        expect(w.ran).toEqual(["witness"]);
        expect(await c.llen(`${ns}queue:other`)).toBe(20);
        expect(await calls("smembers")).toBe(refreshes);
        // the witness's own fetch and ack, nothing more
        expect(await laneCalls()).toBeLessThanOrEqual(fetches + 2);
      } finally {
        await stopWorker(w);
      }
    });

    test("--keyspace-notifications=enable (a child worker, the real flag) turns them on (E and l) and uses them", async () => {
      await c.send("SADD", [`${ns}queues`, ...padded]);
      const w = spawnWorker(["--queues=*", `--uri=${server.url}`, `--namespace=${ns}`, "--interval=60", "--keyspace-notifications=enable"]);
      const record = (tag: string) => `{"class":"Record","args":["${tag}"]}`;
      const recorded = () => c.lrange(`${ns}test:ran`, 0, -1);
      try {
        await idle(c, ns);
        const flags = await notifyFlags();
        expect(flags).toContain("E");
        expect(flags).toContain("l");
        await waitFor(async () => (await subscribers()) === 1, 5000, "the notifier's subscriptions");
        await c.rpush(`${ns}queue:q0500`, record("first"));
        await waitFor(async () => (await c.get(`${ns}stat:processed`)) === "1", 5000, "the first job and its ack");
        await c.rpush(`${ns}queue:q0501`, record("second"));
        await waitFor(async () => (await c.get(`${ns}stat:processed`)) === "2", 5000, "the second job");
        expect(await recorded()).toEqual(['["first"]', '["second"]']);
      } finally {
        w.signal("SIGTERM");
        expect(await w.exited).toBe(0);
      }
    });
  });

  describe("one hop for the queues past the blocking ones (--interval 60: a poll cannot find a job within these bounds)", () => {
    test("a notified job is taken by a pickup into a lent slot, not by a woken lane's fetch", async () => {
      // As below: only pickup-5.lua writes a worker state with SET, a lane's fetch writes with MSET. No promoter:
      // its master-lock attempts (SET NX, promote-4.lua's SET) would count as SETs too.
      await c.send("CONFIG", ["SET", "notify-keyspace-events", "El"]);
      await c.send("SADD", [`${ns}queues`, ...padded]);
      const w = recording({ uri: server.url, namespace: ns, queues: ["*"], interval: 60, followQueues: 0, promote: false });
      try {
        await idle(c, ns);
        await waitFor(async () => (await subscribers()) === 1, 5000, "the notifier's subscriptions");
        const [sets, fetches] = [await calls("set"), await calls("mset")];
        await c.rpush(`${ns}queue:q0500`, J("notified"));
        await waitFor(async () => (await c.get(`${ns}stat:processed`)) === "1", 5000, "the job and its ack");
        expect(w.ran).toEqual(["notified"]);
        expect(await calls("set")).toBe(sets + 1);
        expect(await calls("mset")).toBe(fetches);
      } finally {
        await stopWorker(w);
      }
    });

    test("a queue that had a job gets a follower: its next job is taken by a blocking wait, without notifications", async () => {
      await c.send("SADD", [`${ns}queues`, ...padded]);
      // Taken by the first fetch at start-up: no notification, no poll.
      await c.rpush(`${ns}queue:q0500`, J("first"));
      const w = recording({ uri: server.url, namespace: ns, queues: ["*"], interval: 60, keyspaceNotifications: "off" });
      try {
        await waitFor(() => w.ran.length === 1, 5000, "the first job");
        await waitFor(async () => (await blocked(c)) === 3 + 1, 5000, "the follower's wait");
        await c.rpush(`${ns}queue:q0500`, J("second"));
        await waitFor(() => w.ran.length === 2, 5000, "the second job (only a follower can take it before the poll)");
        expect(w.ran).toEqual(["first", "second"]);
      } finally {
        await stopWorker(w);
      }
    });

    test("a follower whose queue has had no job for a whole wait stops: connections and idle traffic go back to the bound without followers", async () => {
      await c.send("SADD", [`${ns}queues`, ...padded]);
      await c.rpush(`${ns}queue:q0500`, J("first"));
      // waits of 2 * 0.75 * 0.95 = 1.4 s (manager.ts blockMs)
      const w = recording({ uri: server.url, namespace: ns, queues: ["*"], interval: 60, keyspaceNotifications: "off", heartbeatInterval: 0.25, deadAfter: 0.75 });
      try {
        await waitFor(() => w.ran.length === 1, 5000, "the first job");
        await waitFor(async () => (await blocked(c)) === 3 + 1, 5000, "the follower's wait");
        const withFollower = await workerConnections();
        await waitFor(async () => (await blocked(c)) === 3, 10_000, "the follower to stop");
        expect(await workerConnections()).toBe(withFollower - 1);
        // the queue is only polled again now: a job there waits for the poll
        await c.rpush(`${ns}queue:q0500`, J("second"));
        await expect(waitFor(() => w.ran.length > 1, 1000, "a job that should wait for the poll")).rejects.toThrow(/timed out/);
      } finally {
        await stopWorker(w);
      }
    });

    test("followers stay within --follow-queues and move to the queue with the latest job once theirs has had none for a while", async () => {
      await c.send("CONFIG", ["SET", "notify-keyspace-events", "El"]);
      await c.send("SADD", [`${ns}queues`, ...padded]);
      const w = recording({ uri: server.url, namespace: ns, queues: ["*"], interval: 60, followQueues: 1 });
      try {
        await idle(c, ns);
        await waitFor(async () => (await subscribers()) === 1, 5000, "the notifier's subscriptions");
        await c.rpush(`${ns}queue:q0500`, J("a1"));
        await waitFor(async () => (await blocked(c)) === 3 + 1, 5000, "a follower on q0500");
        // Within FOLLOW_KEEP_MS of q0500's job: the only follower stays where it is, and no second one opens.
        await c.rpush(`${ns}queue:q0600`, J("b1"));
        await waitFor(() => w.ran.length === 2, 5000, "b1");
        expect(await blocked(c)).toBe(3 + 1);
        // The keep time is the rule under test: wait it out, then a job on q0600 moves the follower there.
        await Bun.sleep(FOLLOW_KEEP_MS + 200);
        await c.rpush(`${ns}queue:q0600`, J("b2"));
        await waitFor(() => w.ran.length === 3, 5000, "b2");
        await waitFor(async () => (await blocked(c)) === 3 + 1 && (await workerConnections()) <= bound(N, true, 1), 5000, "the follower's new wait");
        // Without notifications from here on, only the follower on q0600 can take these before the poll.
        await c.send("CONFIG", ["SET", "notify-keyspace-events", ""]);
        await c.rpush(`${ns}queue:q0500`, J("a2 (nobody watches q0500 now)"));
        await c.rpush(`${ns}queue:q0600`, J("b3"));
        await waitFor(() => w.ran.includes("b3"), 5000, "b3, taken by the follower");
        expect(w.ran).toEqual(["a1", "b1", "b2", "b3"]);
        expect(await c.llen(`${ns}queue:q0500`)).toBe(1);
      } finally {
        await stopWorker(w);
      }
    });
  });

  test("a job on a blocking queue (the first of 1,000) is taken by the pipelined pickup, not by a woken lane", async () => {
    // Only pickup-5.lua writes a worker state with SET (a lane's fetch writes states with MSET, a heartbeat
    // uses SET only to register ids that are missing), so SET's call count tells which path took the job.
    await c.send("SADD", [`${ns}queues`, ...padded]);
    // No promoter: its lock attempts (SET NX) would count as SETs too.
    const w = recording({ uri: server.url, namespace: ns, queues: ["*"], interval: 60, promote: false });
    try {
      await idle(c, ns);
      const sets = await calls("set");
      const fetches = await calls("mset");
      await c.rpush(`${ns}queue:q0000`, J("blocking"));
      await waitFor(() => w.ran.length === 1, 5000, "the job");
      await waitFor(async () => (await c.get(`${ns}stat:processed`)) === "1", 5000, "its ack");
      expect(await calls("set")).toBe(sets + 1);
      // the ack clears the state (DEL) and counts with INCRBY: no MSET; a lane's fetch of the job would have been one
      expect(await calls("mset")).toBe(fetches);
    } finally {
      await stopWorker(w);
    }
  });
});

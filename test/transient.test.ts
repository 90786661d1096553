// isTransient() and mustReconnect() on the errors real redis-servers give: a replica (READONLY), a replica
// whose primary is gone (MASTERDOWN), a server at maxmemory (OOM), a server still loading its data (LOADING),
// a busy script (BUSY), too few replicas (NOREPLICAS); and errors no retry cures. Then what RedisConn and
// retrying() do with them: a replica's reply replaces the connection (so that with Sentinel the next one finds
// the new primary), OOM keeps it and is retried with backoff until memory is freed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RedisClient, type Subprocess } from "bun";
import { createConsola, type LogObject } from "consola/core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConnectionError, RedisTimeoutError } from "../src/errors";
import { isTransient, mustReconnect, RedisConn } from "../src/redis";
import { Outage, retrying } from "../src/retry";
import { parseUri } from "../src/uri";
import { freePort, startRedis, waitFor, type PrivateRedis } from "./helpers/redis";

const NO_TLS = { insecureTls: false, tlsCert: "" };

/** The rejection of `p`; fails the test if it resolves. */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection, got a reply");
}

const plain = (url: string) => new RedisClient(url, { autoReconnect: false, connectionTimeout: 2000 });

let primary: PrivateRedis;
let replica: PrivateRedis;
let orphan: PrivateRedis;
let full: PrivateRedis;
let p: RedisClient;
let r: RedisClient;
let o: RedisClient;
let f: RedisClient;

beforeAll(async () => {
  primary = await startRedis();
  replica = await startRedis({ extra: ["--replicaof", "127.0.0.1", String(primary.port)] });
  // A replica of a primary that does not exist, told not to serve stale data: MASTERDOWN to every read.
  // (set after start-up, which waits for a PING that such a replica refuses too).
  orphan = await startRedis({ extra: ["--replicaof", "127.0.0.1", String(await freePort())] });
  full = await startRedis();
  [p, r, o, f] = [plain(primary.url), plain(replica.url), plain(orphan.url), plain(full.url)];
  expect(await o.send("CONFIG", ["SET", "replica-serve-stale-data", "no"])).toBe("OK");
  await f.set("filler", "x".repeat(100_000));
  expect(await f.send("CONFIG", ["SET", "maxmemory", "1"])).toBe("OK");
});

afterAll(async () => {
  for (const c of [p, r, o, f]) c?.close();
  await Promise.all([primary, replica, orphan, full].map((s) => s?.stop()));
});

describe("server replies", () => {
  test("READONLY from a replica (a plain write and a script): transient, and the connection must go", async () => {
    for (const e of [await rejection(r.set("k", "v")), await rejection(r.send("EVAL", ["return redis.call('SET', KEYS[1], 'v')", "1", "k"]))]) {
      expect(e.message).toStartWith("READONLY You can't write against a read only replica.");
      expect(isTransient(e)).toBe(true);
      expect(mustReconnect(e)).toBe(true);
    }
  });

  test("MASTERDOWN from a replica without its primary: transient, and the connection must go", async () => {
    const e = await rejection(o.get("k"));
    expect(e.message).toStartWith("MASTERDOWN");
    expect(isTransient(e)).toBe(true);
    expect(mustReconnect(e)).toBe(true);
  });

  test("OOM from a server at maxmemory (a plain write and a script): transient, the connection stays", async () => {
    for (const e of [await rejection(f.set("k", "v")), await rejection(f.send("EVAL", ["return redis.call('SET', KEYS[1], 'v')", "1", "k"]))]) {
      expect(e.message).toStartWith("OOM command not allowed when used memory > 'maxmemory'");
      expect(isTransient(e)).toBe(true);
      expect(mustReconnect(e)).toBe(false);
    }
  });

  test("NOREPLICAS from a primary that needs more replicas than it has: transient, the connection stays", async () => {
    await p.send("CONFIG", ["SET", "min-replicas-to-write", "5"]);
    try {
      const e = await rejection(p.set("k", "v"));
      expect(e.message).toStartWith("NOREPLICAS");
      expect(isTransient(e)).toBe(true);
      expect(mustReconnect(e)).toBe(false);
    } finally {
      await p.send("CONFIG", ["SET", "min-replicas-to-write", "0"]);
    }
  });

  test("BUSY while a script runs too long: transient, the connection stays", async () => {
    await p.send("CONFIG", ["SET", "busy-reply-threshold", "50"]);
    const looper = plain(primary.url);
    const other = plain(primary.url);
    try {
      await other.ping();
      const loop = looper.send("EVAL", ["while true do end", "0"]).catch((e: unknown) => e);
      const e = await waitFor(async () => {
        const got = await rejection(other.ping()).catch(() => null);
        return got?.message.startsWith("BUSY") ? got : null;
      }, 10_000, "a BUSY reply");
      expect(isTransient(e)).toBe(true);
      expect(mustReconnect(e)).toBe(false);
      await other.send("SCRIPT", ["KILL"]);
      await loop;
    } finally {
      looper.close();
      other.close();
    }
  });

  test("errors a retry cannot cure are not transient", async () => {
    await p.set("str", "v");
    const cases = [
      await rejection(p.send("LPUSH", ["str", "x"])), // WRONGTYPE
      await rejection(p.send("EVALSHA", ["0000000000000000000000000000000000000000", "0"])), // NOSCRIPT
      await rejection(p.send("NOSUCHCOMMAND", [])), // ERR unknown command
      await rejection(p.send("RESTORE", ["str", "0", "x"])), // BUSYKEY: not BUSY
    ];
    expect(cases.map((e) => e.message.split(" ")[0])).toEqual(["WRONGTYPE", "NOSCRIPT", "ERR", "BUSYKEY"]);
    for (const e of cases) {
      expect(isTransient(e)).toBe(false);
      expect(mustReconnect(e)).toBe(false);
    }
  });

  test("a wrong password is not transient", async () => {
    await p.send("ACL", ["SETUSER", "someone", "on", ">right", "~*", "+@all"]);
    const c = plain(`redis://someone:wrong@127.0.0.1:${primary.port}`);
    try {
      const e = await rejection(c.ping());
      expect(e.message).toContain("WRONGPASS");
      expect(isTransient(e)).toBe(false);
    } finally {
      c.close();
    }
  });

  test("a refused connection, a closed one, our timeout and our ConnectionError are transient and drop the connection", async () => {
    const c = plain(`redis://127.0.0.1:${await freePort()}`);
    const refused = await rejection(c.ping());
    c.close();
    const d = plain(primary.url);
    await d.ping();
    d.close();
    const closed = await rejection(d.ping());
    for (const e of [refused, closed, new RedisTimeoutError("x: no answer"), new ConnectionError("cannot reach")]) {
      expect(isTransient(e)).toBe(true);
      expect(mustReconnect(e)).toBe(true);
    }
  });
});

describe("LOADING", () => {
  let dir: string;
  let proc: Subprocess | undefined;
  afterAll(async () => {
    proc?.kill("SIGKILL");
    await proc?.exited;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("a server loading its data: transient, the connection stays", async () => {
    // An RDB of 20,000 keys loaded with a delay per key, answering clients every KB of it (two debugging
    // settings of redis-server; by default it answers only every 2 MB, and this RDB is smaller).
    dir = mkdtempSync(join(tmpdir(), "bunworker-loading-"));
    const port = await freePort();
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"];
    proc = Bun.spawn(["redis-server", ...args], { stdout: "ignore", stderr: "ignore" });
    const url = `redis://127.0.0.1:${port}`;
    await waitFor(async () => {
      const c = plain(url);
      try {
        return (await c.ping()) === "PONG";
      } finally {
        c.close();
      }
    }, 10_000, "the server to start");
    const c = plain(url);
    await c.send("EVAL", ["for i = 1, 20000 do redis.call('SET', 'key:' .. i, i) end", "0"]);
    await c.send("SAVE", []);
    c.close();
    proc.kill("SIGKILL");
    await proc.exited;
    proc = Bun.spawn(["redis-server", ...args, "--key-load-delay", "100", "--loading-process-events-interval-bytes", "1024"], { stdout: "ignore", stderr: "ignore" });
    const e = await waitFor(async () => {
      const l = plain(url);
      try {
        const got = await rejection(l.get("key:1")).catch(() => null);
        return got?.message.startsWith("LOADING") ? got : null;
      } finally {
        l.close();
      }
    }, 10_000, "a LOADING reply");
    expect(isTransient(e)).toBe(true);
    expect(mustReconnect(e)).toBe(false);
  });
});

describe("RedisConn and retrying()", () => {
  const clientId = (conn: RedisConn) => conn.run((c) => c.send("CLIENT", ["ID"]), "CLIENT ID");

  test("a READONLY reply replaces the connection: the next call runs on a new one", async () => {
    const conn = new RedisConn(parseUri(replica.url, NO_TLS), 2000, "test");
    try {
      const before = await clientId(conn);
      const e = await rejection(conn.run((c) => c.set("k", "v"), "SET"));
      expect(e.message).toStartWith("READONLY");
      expect(await clientId(conn)).not.toBe(before);
    } finally {
      conn.close();
    }
  });

  test("an OOM reply keeps the connection, and retrying() waits until memory is freed instead of failing", async () => {
    const lines: string[] = [];
    const log = createConsola({ level: 5, reporters: [{ log: (o: LogObject) => void lines.push(`${o.type} ${o.args.join(" ")}`) }] });
    const conn = new RedisConn(parseUri(full.url, NO_TLS), 2000, "test");
    try {
      const before = await clientId(conn);
      const e = await rejection(conn.run((c) => c.set("k", "v"), "SET"));
      expect(e.message).toStartWith("OOM");
      expect(await clientId(conn)).toBe(before);
      let attempts = 0;
      const done = retrying(() => (attempts++, conn.run((c) => c.set("after-oom", "v"), "SET")), new Outage(log, full.url));
      await waitFor(() => attempts >= 3, 10_000, "a few retries while at maxmemory");
      await f.send("CONFIG", ["SET", "maxmemory", "0"]);
      expect(await done).toBe("OK");
      expect(await f.get("after-oom")).toBe("v");
      expect(lines.filter((l) => l.includes("unavailable"))).toHaveLength(1);
      expect(lines.join("\n")).toContain("OOM command not allowed");
    } finally {
      conn.close();
      await f.send("CONFIG", ["SET", "maxmemory", "1"]);
    }
  });
});

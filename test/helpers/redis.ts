// Real Redis for tests: the shared server at $REDIS_URL (default 127.0.0.1:6379) with a fresh namespace per
// test (BullMQ's cleanup-queue pattern), or a private redis-server on a free port for tests that kill,
// restart, freeze it or need persistence.
import { afterAll, afterEach, beforeAll, beforeEach } from "bun:test";
import { RedisClient } from "bun";
import { createServer, type Server } from "node:net";
import { makeKeys, type Keys } from "../../src/keys";
import { freePort, startPrivateRedis, type PrivateRedis } from "../../src/private-redis";

export { freePort, onFreePort, type PrivateRedis } from "../../src/private-redis";

/** A free port whose next `count - 1` ports are free too (a --processes=N child n listens on port + n - 1);
 * a single free port's neighbour is often another test's server or an ephemeral client port. */
export async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePort();
    if (base + count - 1 > 65535) continue;
    const held: Server[] = [];
    for (let port = base; port < base + count; port++) {
      const srv = await listening(port);
      if (!srv) break;
      held.push(srv);
    }
    await Promise.all(held.map((srv) => new Promise((resolve) => srv.close(resolve))));
    if (held.length === count) return base;
  }
  throw new Error(`no run of ${count} free ports on 127.0.0.1 after 50 tries`);
}

/** A server listening on 127.0.0.1:port, or null when the port is taken. */
function listening(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(null));
    srv.listen(port, "127.0.0.1", () => resolve(srv));
  });
}

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

export function client(url = REDIS_URL): RedisClient {
  return new RedisClient(url);
}

/** A namespace no other test uses, e.g. "t-k3j9x2:". */
export function freshNamespace(): string {
  return `t-${Math.random().toString(36).slice(2, 10)}:`;
}

/** Delete every key of a namespace. */
export async function dropNamespace(c: RedisClient, ns: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = (await c.send("SCAN", [cursor, "MATCH", `${ns}*`, "COUNT", "1000"])) as [string, string[]];
    cursor = next;
    if (keys.length) await c.send("DEL", keys);
  } while (cursor !== "0");
}

/** Every test of the calling file gets a fresh client and namespace, dropped afterwards. */
export function isolate(use: (c: RedisClient, ns: string) => void): void {
  let c: RedisClient;
  let ns: string;
  beforeEach(() => {
    c = client();
    ns = freshNamespace();
    use(c, ns);
  });
  afterEach(async () => {
    await dropNamespace(c, ns);
    c.close();
  });
}

/** What `isolateKeys` gives each test: its client, its namespace and that namespace's keys. */
export interface Isolated {
  c: RedisClient;
  ns: string;
  keys: Keys;
}

/** `isolate`, with the namespace's keys (src/keys.ts) made once here rather than in every test file. */
export function isolateKeys(use: (t: Isolated) => void): void {
  isolate((c, ns) => use({ c, ns, keys: makeKeys(ns) }));
}

/** The error `f` throws; fails the test if it throws nothing. */
export function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error, nothing was thrown");
}

/** Every private server a test started and has not stopped: test/setup.ts stops them at the end of the run. */
export const privateServers = new Set<PrivateRedis>();

/** A private redis-server (src/private-redis.ts), tracked so that none outlives the test run. */
export async function startRedis(opts: { appendonly?: boolean; extra?: string[] } = {}): Promise<PrivateRedis> {
  const server = await startPrivateRedis(opts);
  privateServers.add(server);
  const stop = server.stop;
  server.stop = async () => {
    privateServers.delete(server);
    await stop();
  };
  return server;
}

/** What `isolatePrivate` gives each test: the file's private server and client, a namespace and its keys. */
export interface PrivateIsolated extends Isolated {
  redis: PrivateRedis;
}

/**
 * A private redis-server and a client on it for the calling file (stopped after its tests), and a fresh namespace
 * per test, the previous test's dropped first.
 */
export function isolatePrivate(use: (t: PrivateIsolated) => void): void {
  let redis: PrivateRedis | undefined;
  let c: RedisClient | undefined;
  let ns = "";
  beforeAll(async () => {
    redis = await startRedis();
    c = new RedisClient(redis.url);
  });
  afterAll(async () => {
    c?.close();
    await redis?.stop();
  });
  beforeEach(async () => {
    if (!redis || !c) throw new Error("the private redis-server did not start");
    if (ns) await dropNamespace(c, ns);
    ns = freshNamespace();
    use({ redis, c, ns, keys: makeKeys(ns) });
  });
}

/** Poll `check` until it is truthy or `timeoutMs` passes (then throw naming `what`). Never a fixed sleep. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let delay = 5; ; delay = Math.min(100, delay * 2)) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await Bun.sleep(delay);
  }
}

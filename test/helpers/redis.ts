// Real Redis for tests: the shared server at $REDIS_URL (default 127.0.0.1:6379) with a fresh namespace per
// test (BullMQ's cleanup-queue pattern), or a private redis-server on a free port for tests that kill,
// restart, freeze it or need persistence.
import { afterEach, beforeEach } from "bun:test";
import { RedisClient, type Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

/** The error `f` throws; fails the test if it throws nothing. */
export function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error, nothing was thrown");
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface PrivateRedis {
  port: number;
  url: string;
  dir: string;
  /** Stops the server the hard way (SIGKILL). */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a frozen server keeps its sockets open but answers nothing. */
  freeze(): void;
  thaw(): void;
  /** Start it again on the same port and data directory (after kill()). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(opts: { appendonly?: boolean; extra?: string[] } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "bunworker-redis-"));
  let proc: Subprocess | null = null;
  const launch = async () => {
    proc = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "",
      "--appendonly", opts.appendonly ? "yes" : "no", "--appendfsync", "always", ...(opts.extra ?? [])], { stdout: "ignore", stderr: "ignore" });
    await waitFor(async () => {
      const c = new RedisClient(`redis://127.0.0.1:${port}`, { autoReconnect: false, connectionTimeout: 500 });
      try {
        const pong = await c.ping();
        const info = (await c.send("INFO", ["persistence"])) as string;
        return pong === "PONG" && info.includes("loading:0");
      } catch {
        return false;
      } finally {
        c.close();
      }
    }, 10_000, `redis-server on port ${port}`);
  };
  await launch();
  const r: PrivateRedis = {
    port,
    dir,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      const p = proc as Subprocess | null;
      if (!p) return;
      p.kill("SIGKILL");
      await p.exited;
      proc = null;
    },
    freeze: () => (proc as Subprocess | null)?.kill("SIGSTOP"),
    thaw: () => (proc as Subprocess | null)?.kill("SIGCONT"),
    restart: launch,
    async stop() {
      const p = proc as Subprocess | null;
      if (p) {
        p.kill("SIGCONT");
        p.kill("SIGKILL");
        await p.exited;
      }
      proc = null;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return r;
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

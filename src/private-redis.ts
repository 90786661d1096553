// A private redis-server on a free port of 127.0.0.1, in a temp folder of its own, for `bun run demo`, the
// tests and the benchmark: started, killed, frozen, restarted and removed with everything it wrote.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisClient, type Subprocess } from "bun";

/** Temp folders of private servers start with this, so a leftover one is recognisable. */
const PRIVATE_REDIS_DIR_PREFIX = "bunworker-redis-";

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

/** Tries on new free ports when a server cannot bind the one it was given. */
const PORT_TRIES = 5;

/**
 * `start(port)` on a free port, and again on another while it answers null: a port found free can be taken by
 * another process before the server binds it. What `start` returned, or an error naming `what`.
 */
export async function onFreePort<T>(what: string, start: (port: number) => Promise<T | null>): Promise<T> {
  for (let attempt = 0; attempt < PORT_TRIES; attempt++) {
    const started = await start(await freePort());
    if (started !== null) return started;
  }
  throw new Error(`${what} could not listen on a free port in ${PORT_TRIES} tries`);
}

export interface PrivateRedis {
  port: number;
  url: string;
  dir: string;
  /** The server's pid while it runs. */
  readonly pid: number | undefined;
  /** Stops the server the hard way (SIGKILL). */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a frozen server keeps its sockets open but answers nothing. */
  freeze(): void;
  thaw(): void;
  /** Start it again on the same port and data directory (after kill()). */
  restart(): Promise<void>;
  /** Kill it and remove its folder. */
  stop(): Promise<void>;
}

/**
 * True once the server answers PING and has loaded its data, and it is the process `pid`: a port found free can
 * be taken by another server before ours binds it, and that one would answer too.
 */
async function ready(port: number, password: string | undefined, pid: number): Promise<boolean> {
  const auth = password === undefined ? "" : `:${encodeURIComponent(password)}@`;
  const c = new RedisClient(`redis://${auth}127.0.0.1:${port}`, { autoReconnect: false, connectionTimeout: 500 });
  try {
    const pong = await c.ping();
    const info = (await c.send("INFO", ["server", "persistence"])) as string;
    return pong === "PONG" && info.includes(`process_id:${pid}\r\n`) && info.includes("loading:0");
  } catch {
    return false;
  } finally {
    c.close();
  }
}

const READY_TIMEOUT_MS = 10_000;

export async function startPrivateRedis(opts: { appendonly?: boolean; extra?: string[] } = {}): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), PRIVATE_REDIS_DIR_PREFIX));
  const extra = opts.extra ?? [];
  const passwordAt = extra.indexOf("--requirepass");
  const password = passwordAt >= 0 ? extra[passwordAt + 1] : undefined;
  let port = 0;
  let proc: Subprocess | null = null;
  /** Starts redis-server on `port`: false when it exited before answering (it could not bind the port). */
  const launch = async (): Promise<boolean> => {
    let p: Subprocess;
    try {
      p = proc = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "",
        "--appendonly", opts.appendonly ? "yes" : "no", "--appendfsync", "always", ...(opts.extra ?? [])], { stdout: "ignore", stderr: "ignore" });
    } catch {
      throw new Error("redis-server is not installed (apt-get install redis-server)");
    }
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (let delay = 5; !(await ready(port, password, p.pid)); delay = Math.min(100, delay * 2)) {
      if (p.exitCode !== null || p.signalCode !== null) return false;
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within ${READY_TIMEOUT_MS} ms`);
      await Bun.sleep(delay);
    }
    return true;
  };
  const current = () => proc as Subprocess | null;
  const server: PrivateRedis = {
    get port() {
      return port;
    },
    dir,
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    get pid() {
      return current()?.pid;
    },
    async kill() {
      const p = current();
      if (!p) return;
      p.kill("SIGKILL");
      await p.exited;
      proc = null;
    },
    freeze: () => current()?.kill("SIGSTOP"),
    thaw: () => current()?.kill("SIGCONT"),
    async restart() {
      if (!(await launch())) throw new Error(`redis-server could not listen on port ${port} again (another process holds it)`);
    },
    async stop() {
      const p = current();
      if (p) {
        p.kill("SIGCONT");
        p.kill("SIGKILL");
        await p.exited;
      }
      proc = null;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await onFreePort("redis-server", async (free) => {
      port = free;
      return (await launch()) || null;
    });
  } catch (e) {
    await server.stop();
    throw e;
  }
  return server;
}

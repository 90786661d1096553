// A Redis Sentinel setup on loopback for tests: a primary, one replica and three sentinels (each its own
// redis-server --sentinel with its own config file in a temp folder under os.tmpdir()), all on free ports,
// all stopped by stop(). Optional passwords: one for the primary and replica, one for the sentinels.
import { RedisClient, type Subprocess } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onFreePort, startRedis, waitFor, type PrivateRedis } from "./redis";

export const MASTER = "mymaster";

export interface SentinelNode {
  port: number;
  proc: Subprocess;
}

export interface SentinelSetup {
  primary: PrivateRedis;
  replica: PrivateRedis;
  sentinels: SentinelNode[];
  password: string;
  sentinelPassword: string;
  /** redis+sentinel://[:password@]127.0.0.1:<s1>,...,127.0.0.1:<s3>/mymaster[?sentinelPassword=...] */
  uri(path?: string): string;
  /** A client of the data server on `port` (the primary's or replica's password included). */
  client(port: number): RedisClient;
  /** A client of sentinel `i`. */
  sentinel(i: number): RedisClient;
  /** The primary's port as every sentinel names it, once they all agree (else null). */
  agreedPrimary(): Promise<number | null>;
  /** ROLE's first element on the server at `port`: "master" or "slave". */
  role(port: number): Promise<string>;
  stop(): Promise<void>;
}

export interface SentinelOptions {
  password?: string;
  sentinelPassword?: string;
}

const STARTUP_MS = 20_000;

/** SENTINEL MASTER / REPLICAS entries come as RESP3 maps (objects) or flat [k, v, ...] arrays. */
export function record(v: unknown): Record<string, string> {
  if (Array.isArray(v)) {
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < v.length; i += 2) out[String(v[i])] = String(v[i + 1]);
    return out;
  }
  return Object.fromEntries(Object.entries((v ?? {}) as Record<string, unknown>).map(([k, x]) => [k, String(x)]));
}

/**
 * Sentinel `i` on a free port, answering as a sentinel. A port found free can be taken by another test's server before
 * the sentinel binds it: a sentinel that exits at start-up is started again on another port.
 */
async function startSentinel(dir: string, i: number, primaryPort: number, password: string, sentinelPassword: string): Promise<SentinelNode> {
  let why = "";
  const started = onFreePort(`sentinel ${i}`, async (port): Promise<SentinelNode | null> => {
    const conf = join(dir, `sentinel-${i}.conf`);
    writeFileSync(conf, [
      `port ${port}`,
      "bind 127.0.0.1",
      `dir ${dir}`,
      `sentinel monitor ${MASTER} 127.0.0.1 ${primaryPort} 2`,
      `sentinel down-after-milliseconds ${MASTER} 1000`,
      `sentinel failover-timeout ${MASTER} 5000`,
      "sentinel resolve-hostnames no",
      ...(password ? [`sentinel auth-pass ${MASTER} ${password}`] : []),
      // A sentinel with a password authenticates to the others with sentinel-pass.
      ...(sentinelPassword ? [`requirepass ${sentinelPassword}`, `sentinel sentinel-pass ${sentinelPassword}`] : []),
      "",
    ].join("\n"));
    const proc = Bun.spawn(["redis-server", conf, "--sentinel"], { stdout: "pipe", stderr: "ignore" });
    const auth = sentinelPassword ? `:${encodeURIComponent(sentinelPassword)}@` : "";
    const deadline = Date.now() + 5000;
    while (proc.exitCode === null && Date.now() < deadline) {
      const c = new RedisClient(`redis://${auth}127.0.0.1:${port}`, { autoReconnect: false, connectionTimeout: 500 });
      try {
        // A sentinel answers, and ours is still running: not some other server that holds the port.
        await c.send("SENTINEL", ["MYID"]);
        if (proc.exitCode === null) {
          void proc.stdout.pipeTo(new WritableStream()); // its log, read so that the pipe never fills
          return { port, proc };
        }
      } catch {
        await Bun.sleep(20);
      } finally {
        c.close();
      }
    }
    proc.kill("SIGKILL");
    await proc.exited;
    why = (await new Response(proc.stdout).text()).trim().split("\n").slice(-3).join(" / ");
    return null;
  });
  return started.catch((e: Error) => {
    throw new Error(`${e.message} (last output: ${why})`);
  });
}

export async function startSentinels(opts: SentinelOptions = {}): Promise<SentinelSetup> {
  const password = opts.password ?? "";
  const sentinelPassword = opts.sentinelPassword ?? "";
  const dir = mkdtempSync(join(tmpdir(), "bunworker-sentinel-"));
  const sentinels: SentinelNode[] = [];
  let primary: PrivateRedis | undefined;
  let replica: PrivateRedis | undefined;
  const auth = (pw: string) => (pw ? `:${encodeURIComponent(pw)}@` : "");
  const quick = (url: string) => new RedisClient(url, { autoReconnect: false, connectionTimeout: 1000 });
  const setup: SentinelSetup = {
    get primary() {
      return primary as PrivateRedis;
    },
    get replica() {
      return replica as PrivateRedis;
    },
    sentinels,
    password,
    sentinelPassword,
    uri(path = `/${MASTER}`) {
      const hosts = sentinels.map((s) => `127.0.0.1:${s.port}`).join(",");
      return `redis+sentinel://${auth(password)}${hosts}${path}${sentinelPassword ? `?sentinelPassword=${encodeURIComponent(sentinelPassword)}` : ""}`;
    },
    client: (port) => new RedisClient(`redis://${auth(password)}127.0.0.1:${port}`, { connectionTimeout: 2000 }),
    sentinel: (i) => quick(`redis://${auth(sentinelPassword)}127.0.0.1:${(sentinels[i] as SentinelNode).port}`),
    async agreedPrimary() {
      const ports = await Promise.all(sentinels.map(async (_, i) => {
        const c = setup.sentinel(i);
        try {
          const a = (await c.send("SENTINEL", ["get-master-addr-by-name", MASTER])) as [string, string] | null;
          return a ? Number(a[1]) : null;
        } catch {
          return null;
        } finally {
          c.close();
        }
      }));
      return ports.every((p) => p !== null && p === ports[0]) ? (ports[0] as number) : null;
    },
    async role(port) {
      const c = quick(`redis://${auth(password)}127.0.0.1:${port}`);
      try {
        return String(((await c.send("ROLE", [])) as unknown[])[0]);
      } finally {
        c.close();
      }
    },
    async stop() {
      for (const s of sentinels) s.proc.kill("SIGKILL");
      await Promise.all(sentinels.map((s) => s.proc.exited));
      await primary?.stop();
      await replica?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    // A replica's full sync otherwise waits 5 s for more replicas to join it (diskless sync's default delay).
    const fastSync = ["--repl-diskless-sync-delay", "0"];
    primary = await startRedis({ extra: fastSync });
    // Passwords are set once a server is up: start-up waits for an unauthenticated PING.
    if (password) {
      const c = quick(primary.url);
      await c.send("CONFIG", ["SET", "masterauth", password]);
      await c.send("CONFIG", ["SET", "requirepass", password]);
      c.close();
    }
    replica = await startRedis({ extra: [...fastSync, "--replicaof", "127.0.0.1", String(primary.port), ...(password ? ["--masterauth", password] : [])] });
    if (password) {
      const c = quick(replica.url);
      await c.send("CONFIG", ["SET", "requirepass", password]);
      c.close();
    }
    await waitFor(async () => (await setup.role(replica!.port)) === "slave" && (await (async () => {
      const c = setup.client(replica!.port);
      try {
        return String(await c.send("INFO", ["replication"])).includes("master_link_status:up");
      } finally {
        c.close();
      }
    })()), STARTUP_MS, "the replica to sync with the primary");
    for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(dir, i, (primary as PrivateRedis).port, password, sentinelPassword));
    // Ready when every sentinel sees the replica and both other sentinels, so that a failover can be agreed.
    // Each check throws what is still missing, so that a timeout says which sentinel lacked what.
    await waitFor(async () => {
      for (let i = 0; i < sentinels.length; i++) {
        const c = setup.sentinel(i);
        try {
          const m = record(await c.send("SENTINEL", ["MASTER", MASTER]));
          if (Number(m["num-slaves"]) < 1 || Number(m["num-other-sentinels"]) < 2 || m.flags !== "master") {
            throw new Error(`sentinel ${i}: ${m["num-slaves"]} replica(s), ${m["num-other-sentinels"]} other sentinel(s), flags ${m.flags}`);
          }
          const replicas = ((await c.send("SENTINEL", ["REPLICAS", MASTER])) as unknown[]).map(record);
          if (!replicas.some((r) => r.flags === "slave" && r["master-link-status"] === "ok")) {
            throw new Error(`sentinel ${i}: replicas ${JSON.stringify(replicas.map((r) => [r.flags, r["master-link-status"]]))}`);
          }
        } finally {
          c.close();
        }
      }
      return true;
    }, STARTUP_MS, "three sentinels that know the primary, the replica and each other");
    return setup;
  } catch (e) {
    await setup.stop();
    throw e;
  }
}

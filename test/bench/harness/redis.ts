// The benchmark's private Redis: a redis-server on a free port (src/private-redis.ts) and ONE client
// connection for the harness, named "bench-harness" so that connection counts can leave it out. Every
// command the harness sends goes through cmd(), which counts it: those commands are subtracted from
// INFO total_commands_processed deltas, so that "Redis commands" means commands caused by the worker.
import { RedisClient } from "bun";
import { startPrivateRedis, type PrivateRedis } from "../../../src/private-redis";
import { round } from "./stats";

/** Client names starting with this are the harness's own connections. */
export const HARNESS_PREFIX = "bench-";

export interface Snapshot {
  total: number;
  cpuS: number;
  calls: Map<string, number>;
  usec: Map<string, number>;
}

export interface Delta {
  /** total_commands_processed delta minus the harness's own commands. */
  commands: number;
  cpuUs: number;
  calls: Map<string, number>;
  usec: Map<string, number>;
}

export interface ClientCounts {
  /** Every entry of CLIENT LIST. */
  total: number;
  /** The harness's own: named bench-*, or a MONITOR connection. */
  harness: number;
}

export class BenchRedis {
  /** Commands the harness itself sent since the last reset (subtracted from total_commands_processed). */
  ownCommands = 0;
  private client: RedisClient | null;

  private constructor(readonly server: PrivateRedis, client: RedisClient, private readonly replicas: PrivateRedis[]) {
    this.client = client;
  }

  /** `replicas`: that many replica servers of it (--replicas, for --min-replicas), synced before any run. */
  static async start(replicas = 0): Promise<BenchRedis> {
    const server = await startPrivateRedis();
    const client = new RedisClient(server.url);
    const started: PrivateRedis[] = [];
    try {
      await client.connect();
      await client.send("CLIENT", ["SETNAME", `${HARNESS_PREFIX}harness`]);
      for (let i = 0; i < replicas; i++) started.push(await startPrivateRedis({ extra: ["--replicaof", "127.0.0.1", String(server.port)] }));
      const deadline = Date.now() + 20_000;
      while (Number(/connected_slaves:(\d+)/.exec(String(await client.send("INFO", ["replication"])))?.[1] ?? 0) < replicas) {
        if (Date.now() > deadline) throw new Error(`${replicas} replica(s) did not connect within 20 s`);
        await Bun.sleep(50);
      }
    } catch (e) {
      client.close();
      for (const r of started) await r.stop();
      await server.stop();
      throw e;
    }
    return new BenchRedis(server, client, started);
  }

  get port(): number {
    return this.server.port;
  }

  get uri(): string {
    return `redis://127.0.0.1:${this.server.port}/`;
  }

  async cmd<T = unknown>(name: string, args: string[] = []): Promise<T> {
    this.ownCommands++;
    if (!this.client) throw new Error("no Redis client");
    return (await this.client.send(name, args)) as T;
  }

  async snapshot(): Promise<Snapshot> {
    const text = await this.cmd<string>("INFO", ["stats", "cpu", "commandstats"]);
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(text)?.[1] ?? NaN);
    const calls = new Map<string, number>();
    const usec = new Map<string, number>();
    for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      calls.set(m[1] as string, Number(m[2]));
      usec.set(m[1] as string, Number(m[3]));
    }
    return { total: field("total_commands_processed"), cpuS: field("used_cpu_user") + field("used_cpu_sys"), calls, usec };
  }

  /** host:port of the harness's connection as MONITOR and CLIENT LIST show it. */
  async ownAddr(): Promise<string> {
    const info = await this.cmd<string>("CLIENT", ["INFO"]);
    return /addr=(\S+)/.exec(info)?.[1] ?? "";
  }

  async clients(): Promise<ClientCounts> {
    const lines = (await this.cmd<string>("CLIENT", ["LIST"])).split("\n").filter((l) => l.trim() !== "");
    const own = (l: string) => new RegExp(`(^| )name=${HARNESS_PREFIX}`).test(l) || /(^| )flags=\S*O/.test(l);
    return { total: lines.length, harness: lines.filter(own).length };
  }

  /** Idempotent: closes the client and kills the server. */
  async close(): Promise<void> {
    try {
      this.client?.close();
    } catch {
      /* closed */
    }
    this.client = null;
    for (const r of this.replicas) await r.stop();
    await this.server.stop();
  }
}

/** `own` = commands the harness sent between the two snapshots, the first INFO included. */
export function delta(a: Snapshot, b: Snapshot, own: number): Delta {
  const calls = new Map<string, number>();
  const usec = new Map<string, number>();
  for (const [k, v] of b.calls) {
    const d = v - (a.calls.get(k) ?? 0);
    if (d > 0) calls.set(k, d), usec.set(k, (b.usec.get(k) ?? 0) - (a.usec.get(k) ?? 0));
  }
  return { commands: b.total - a.total - own, cpuUs: (b.cpuS - a.cpuS) * 1e6, calls, usec };
}

export function perJob(d: Delta, jobs: number, top = 10): Record<string, number> {
  const out: Record<string, number> = {};
  const ignore = new Set(["info", "llen", "get"]); // the harness polls with LLEN/GET; shown only if the worker used many
  const entries = [...d.calls.entries()].filter(([k, v]) => !ignore.has(k) || v > 50).sort((x, y) => y[1] - x[1]).slice(0, top);
  for (const [k, v] of entries) out[k] = round(v / jobs, 3);
  return out;
}

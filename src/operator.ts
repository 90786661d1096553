// A worker's operator side (#18): `--web=[HOST:]PORT` serves the dashboard beside the worker and
// `--metrics-port=[HOST:]PORT` serves /metrics with this process's job metrics. Both listen on 127.0.0.1
// unless a host is given. With --processes > 1 the supervisor serves the dashboard (it needs nothing of the
// children) and child N serves its metrics on the port + N - 1 (its number comes from the supervisor).
import type { Server } from "bun";
import type { OperatorFlags } from "./cli";
import type { Config } from "./config";
import { SettingsError } from "./errors";
import type { JobObserver } from "./metrics";
import type { Schedule } from "./schedule";
import { RedisConn } from "./redis";
import { CHILD_ENV } from "./supervisor";

/** "9394" -> 127.0.0.1:9394; "0.0.0.0:9394" or "[::]:9394" -> that address. Loopback unless told otherwise. */
export function parseListen(flag: string, v: string): { host: string; port: number } {
  const m = /^(?:\[?([^\]]*?)\]?:)?(\d{1,5})$/.exec(v.trim());
  const port = Number(m?.[2]);
  if (!m || port > 65535) throw new SettingsError(`${flag} must be PORT or HOST:PORT, got "${v}"`);
  return { host: m[1] || "127.0.0.1", port };
}

export interface OperatorSide {
  observer: JobObserver | null;
  stop(): void;
}

const NONE: OperatorSide = { observer: null, stop: () => {} };

/** Checks the flags before anything starts: a bad one exits 2 with the usage line like any other flag. */
export function checkOperatorFlags(flags: OperatorFlags | undefined, processes: number): void {
  if (!flags) return;
  if (flags.web !== undefined) parseListen("--web", flags.web);
  if (flags.metricsPort !== undefined) {
    const { port } = parseListen("--metrics-port", flags.metricsPort);
    if (port > 0 && port + processes - 1 > 65535) throw new SettingsError(`--metrics-port ${port} leaves no port for each of ${processes} processes (up to ${port + processes - 1})`);
  }
}

/** Starts what the flags ask for; the dashboard and prom-client are loaded only then (a worker without them stays lean). */
export async function startOperatorSide(config: Config, flags: OperatorFlags | undefined, role: { dashboard: boolean; metrics: boolean }, schedules: readonly Schedule[] = config.schedules): Promise<OperatorSide> {
  if (!flags || (!flags.web && !flags.metricsPort)) return NONE;
  const { Metrics } = await import("./metrics");
  const servers: Server<undefined>[] = [];
  const conns: RedisConn[] = [];
  let observer: JobObserver | null = null;
  try {
    if (flags.web !== undefined && role.dashboard) {
      const { host, port } = parseListen("--web", flags.web);
      const conn = new RedisConn(config.target, config.commandTimeoutMs, "dashboard metrics");
      conns.push(conn);
      const fleet = new Metrics(conn, config.keys, { jobs: false });
      const { startDashboard, TOKEN_ENV } = await import("./web/server");
      const token = flags.webToken ?? process.env[TOKEN_ENV];
      const s = startDashboard({ target: config.target, keys: config.keys, commandTimeoutMs: config.commandTimeoutMs, host, port, token: token || undefined, readOnly: false, deadAfter: 300, metrics: () => fleet.render(), schedules });
      servers.push(s);
      config.log.info(`dashboard on ${s.url.href}`);
    }
    if (flags.metricsPort !== undefined && role.metrics) {
      const listen = parseListen("--metrics-port", flags.metricsPort);
      const child = Number(process.env[CHILD_ENV] || "1");
      const { host } = listen;
      const port = listen.port === 0 ? 0 : listen.port + (Number.isInteger(child) && child > 0 ? child - 1 : 0);
      const conn = new RedisConn(config.target, config.commandTimeoutMs, "metrics");
      conns.push(conn);
      const metrics = new Metrics(conn, config.keys, { jobs: true });
      observer = metrics.observer;
      const s = Bun.serve({
        hostname: host,
        port,
        async fetch(req) {
          if (new URL(req.url).pathname !== "/metrics") return new Response("not found: try /metrics\n", { status: 404 });
          const m = await metrics.render().catch((e: unknown) => ({ contentType: "text/plain", body: `# scrape failed: ${(e as Error).message}\n`, failed: true }));
          return new Response(m.body, { status: "failed" in m ? 503 : 200, headers: { "Content-Type": m.contentType } });
        },
      });
      servers.push(s);
      config.log.info(`metrics on ${s.url.href}metrics`);
    }
  } catch (e) {
    for (const s of servers) s.stop(true);
    for (const c of conns) c.close();
    throw e;
  }
  return {
    observer,
    stop: () => {
      for (const s of servers) s.stop(true);
      for (const c of conns) c.close();
    },
  };
}

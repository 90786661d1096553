// `bunworker web`: the dashboard on its own, until INT or TERM. Listens on 127.0.0.1:5678 unless told
// otherwise; another address needs a token (--web-token or $BUNWORKER_WEB_TOKEN).
import { defineCommand } from "citty";
import { makeKeys } from "../keys";
import { Metrics } from "../metrics";
import { RedisConn } from "../redis";
import { defaultSettings } from "../settings";
import { parseScheduleYaml, readScheduleFile } from "../schedule";
import { parseUri } from "../uri";
import { startDashboard, TOKEN_ENV } from "../web/server";
import { count, helpArg, redisArgs } from "./common";

export const DEFAULT_WEB_PORT = 5678;

export const webArgs = {
  port: { type: "string", description: `port to listen on (default ${DEFAULT_WEB_PORT}; 0 = any free port)`, valueHint: "n" },
  host: { type: "string", description: "address to listen on (default 127.0.0.1); any other needs a token", valueHint: "addr" },
  "web-token": { type: "string", description: `token every request must carry (open /?token=... once); default $${TOKEN_ENV}`, valueHint: "token" },
  "read-only": { type: "boolean", description: "show everything, change nothing (for shared screens)" },
  "dead-after": { type: "string", description: "seconds without a heartbeat before a worker is shown dead (default 300)", valueHint: "s" },
  schedule: { type: "string", description: "the workers' schedule file (YAML), shown in full on the Schedules page", valueHint: "file" },
} as const;

export const webCommand = defineCommand({
  meta: { name: "web", description: "The dashboard: overview with per-minute charts, queues, workers, failed jobs (retry, remove), delayed jobs, schedules, /metrics. Runs until INT or TERM." },
  args: { ...webArgs, ...redisArgs, ...helpArg },
  async run({ args }) {
    const d = defaultSettings();
    const target = parseUri(args.uri ?? d.uri, { tlsCert: args["tls-cert"] ?? "", insecureTls: args["insecure-tls"] === true });
    const token = args["web-token"] ?? process.env[TOKEN_ENV] ?? undefined;
    const keys = makeKeys(args.namespace ?? d.namespace);
    const conn = new RedisConn(target, d.commandTimeout * 1000, "dashboard metrics");
    const metrics = new Metrics(conn, keys, { jobs: false });
    const server = startDashboard({
      target,
      keys,
      metrics: () => metrics.render(),
      commandTimeoutMs: d.commandTimeout * 1000,
      host: args.host ?? "127.0.0.1",
      port: count("--port", args.port, DEFAULT_WEB_PORT),
      token: token || undefined,
      readOnly: args["read-only"] === true,
      deadAfter: count("--dead-after", args["dead-after"], 300),
      schedules: args.schedule ? parseScheduleYaml(readScheduleFile(args.schedule), args.schedule) : [],
    });
    process.stderr.write(`bunworker web: dashboard on ${server.url.href}${token ? " (token required)" : ""}${args["read-only"] ? " (read-only)" : ""} for ${target.display}\n`);
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      process.once("SIGINT", done);
      process.once("SIGTERM", done);
    });
    server.stop(true);
    conn.close();
  },
});

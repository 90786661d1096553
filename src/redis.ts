// Connections to Redis, built around what Bun's client does not do (shared/reference/bun-redis-client.md):
// 1. It has no command timeout: every call here has one; a call that times out drops its connection, since a
//    stalled socket (frozen server, black hole) never recovers by itself.
// 2. It gives up reconnecting after ~31 s and loses SELECT on reconnect: we turn its reconnection off and
//    open a fresh client ourselves on the next call, so outages of any length heal and a unix socket's db
//    index is selected again on every connection.
// 3. One client per blocking command: callers create one RedisConn per blocking loop.
import { RedisClient } from "bun";
import { ConnectionError, RedisTimeoutError, SettingsError } from "./errors";

export interface RedisTarget {
  /** What Bun's client is given. */
  url: string;
  /** The URI with any password replaced by ***, for logs and errors. */
  display: string;
  tls: boolean | { ca?: string; rejectUnauthorized: boolean };
  /** Sent after connecting: unix socket URLs cannot carry a db index or credentials for Bun's client. */
  db: number;
  password: string;
  username: string;
}

/** Where the credentials of a URI end: the last "@" (a password may hold "@" or "/"), or for unix:// the "@/" before the absolute path. */
function credentialEnd(scheme: string, rest: string): number {
  if (scheme.toLowerCase() !== "unix://" || !rest.startsWith("/")) {
    const beforePath = scheme.toLowerCase() === "unix://" ? rest.indexOf("@/") : -1;
    return beforePath >= 0 ? beforePath : rest.lastIndexOf("@");
  }
  return -1;
}

export function redact(uri: string): string {
  const scheme = /^[a-z+]+:\/\//i.exec(uri)?.[0];
  if (!scheme) return uri;
  const rest = uri.slice(scheme.length);
  const at = credentialEnd(scheme, rest);
  if (at < 0) return uri;
  const colon = rest.slice(0, at).indexOf(":");
  return `${scheme}${colon < 0 ? "***" : `${rest.slice(0, colon)}:***`}${rest.slice(at)}`;
}

export interface TlsSettings {
  insecureTls: boolean;
  tlsCert: string;
}

/** Parse a redis://, rediss:// or unix:// URI; throws SettingsError naming what is wrong. */
export function parseUri(uri: string, tls: TlsSettings): RedisTarget {
  const display = redact(uri);
  const m = /^([a-z+]+):\/\//i.exec(uri);
  const scheme = m?.[1]?.toLowerCase();
  let ca: string | undefined;
  if (tls.tlsCert) {
    try {
      ca = require("node:fs").readFileSync(tls.tlsCert, "utf8") as string;
    } catch (e) {
      throw new SettingsError(`--tls-cert: cannot read ${tls.tlsCert}: ${(e as Error).message}`);
    }
  }
  const secure = ca !== undefined || tls.insecureTls ? { ca, rejectUnauthorized: !tls.insecureTls } : true;
  if ((tls.tlsCert || tls.insecureTls) && scheme !== "rediss") {
    throw new SettingsError(`--${tls.tlsCert ? "tls-cert" : "insecure-tls"} needs a rediss:// URI, got "${display}"`);
  }
  if (scheme === "redis" || scheme === "rediss") {
    let parsed: URL;
    try {
      parsed = new URL(uri);
    } catch {
      throw new SettingsError(`--uri: cannot parse "${display}"`);
    }
    if (!parsed.hostname) throw new SettingsError(`--uri: no host in "${display}"`);
    const dbPart = parsed.pathname.replace(/^\//, "");
    if (dbPart && !/^\d+$/.test(dbPart)) throw new SettingsError(`--uri: database must be a number, got "${dbPart}" in "${display}"`);
    const useTls = scheme === "rediss" ? secure : false;
    return { url: uri, display, tls: useTls, db: 0, password: "", username: "" };
  }
  if (scheme === "unix") {
    const rest = uri.slice("unix://".length);
    const [pathPart = "", query = ""] = rest.split("?");
    const at = credentialEnd("unix://", pathPart);
    const cred = at >= 0 ? pathPart.slice(0, at) : "";
    const path = at >= 0 ? pathPart.slice(at + 1) : pathPart;
    if (!path.startsWith("/")) throw new SettingsError(`--uri: unix socket path must be absolute, got "${display}"`);
    const params = new URLSearchParams(query);
    const db = params.get("db") ?? "0";
    if (!/^\d+$/.test(db)) throw new SettingsError(`--uri: db must be a number in "${display}"`);
    const colon = cred.indexOf(":");
    return {
      url: `redis+unix://${path}`,
      display,
      tls: false,
      db: Number(db),
      username: colon >= 0 ? decodeURIComponent(cred.slice(0, colon)) : "",
      password: decodeURIComponent(colon >= 0 ? cred.slice(colon + 1) : cred),
    };
  }
  throw new SettingsError(`--uri: unsupported scheme in "${display}" (use redis://, rediss:// or unix://)`);
}

const TRANSIENT_REPLIES = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|READONLY|NOREPLICAS)/;

/** True for errors that a retry can cure: connection loss, timeouts, a server still loading its data. */
export function isTransient(e: unknown): boolean {
  if (e instanceof RedisTimeoutError || e instanceof ConnectionError) return true;
  const code = (e as { code?: string } | null)?.code;
  if (code === "ERR_REDIS_SERVER_ERROR") return TRANSIENT_REPLIES.test((e as Error).message);
  if (code === "ERR_REDIS_AUTHENTICATION_FAILED" || code === "ERR_REDIS_INVALID_PASSWORD") return false;
  return typeof code === "string" && code.startsWith("ERR_REDIS");
}

export function timed<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisTimeoutError(`${what}: no answer from Redis within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * The client handed to job code (redis()) and used by enqueue(): Bun's own reconnection, told never to give
 * up (its default stops after ~31 s and leaves the client dead for good), with its offline queue, so a job's
 * command issued during an outage is sent when Redis is back. A unix socket's db and password are sent again
 * on every connect, since Bun's client cannot carry them in the URL.
 */
export async function openSharedClient(target: RedisTarget, timeoutMs: number): Promise<RedisClient> {
  const c = new RedisClient(target.url, { tls: target.tls, connectionTimeout: timeoutMs, maxRetries: 0xffffffff });
  if (target.password || target.db) {
    c.onconnect = () => {
      if (target.password) void c.send("AUTH", target.username ? [target.username, target.password] : [target.password]).catch(() => {});
      if (target.db) void c.send("SELECT", [String(target.db)]).catch(() => {});
    };
  }
  try {
    await timed(c.connect(), timeoutMs, "shared client connect");
  } catch (e) {
    c.close();
    throw new ConnectionError(`cannot reach Redis at ${target.display}: ${(e as Error).message}`);
  }
  return c;
}

/** One Redis connection that replaces itself after any connection-level failure. */
export class RedisConn {
  private client: RedisClient | null = null;
  private opening: Promise<RedisClient> | null = null;
  private closed = false;

  constructor(
    private readonly target: RedisTarget,
    private readonly timeoutMs: number,
    readonly name: string,
  ) {}

  /** A connected client (opening one if needed), or a rejection within the command timeout. */
  ready(): Promise<RedisClient> {
    if (this.closed) return Promise.reject(new ConnectionError(`${this.name}: connection closed`));
    if (this.client?.connected) return Promise.resolve(this.client);
    this.opening ??= this.open().finally(() => (this.opening = null));
    return this.opening;
  }

  private async open(): Promise<RedisClient> {
    this.drop();
    // The offline queue only matters before the first connect here (no auto-reconnect): it lets the PING below
    // ride along with connect() and report the real reason a connection is refused.
    const c = new RedisClient(this.target.url, {
      autoReconnect: false,
      enableOfflineQueue: true,
      connectionTimeout: this.timeoutMs,
      tls: this.target.tls,
    });
    try {
      // connect() rejects with a bare "Connection closed" for a wrong password or an untrusted certificate;
      // a command sent alongside it is rejected with the real reason, so that is the error we report.
      const [connected, ping] = await timed(Promise.allSettled([c.connect(), c.ping()]), this.timeoutMs, `${this.name} connect`);
      if (ping.status === "rejected" && connected.status === "rejected") throw ping.reason;
      if (connected.status === "rejected") throw connected.reason;
      if (this.target.password) {
        const auth = this.target.username ? [this.target.username, this.target.password] : [this.target.password];
        await timed(c.send("AUTH", auth), this.timeoutMs, `${this.name} AUTH`);
      }
      if (this.target.db) await timed(c.send("SELECT", [String(this.target.db)]), this.timeoutMs, `${this.name} SELECT`);
    } catch (e) {
      c.close();
      throw e;
    }
    if (this.closed) {
      c.close();
      throw new ConnectionError(`${this.name}: connection closed`);
    }
    this.client = c;
    return c;
  }

  /** Run one call; on a timeout or connection failure the connection is dropped and the error rethrown. */
  async run<T>(f: (c: RedisClient) => Promise<T>, what: string, timeoutMs = this.timeoutMs): Promise<T> {
    const c = await this.ready();
    try {
      return await timed(f(c), timeoutMs, `${this.name} ${what}`);
    } catch (e) {
      if (isTransient(e) && (e as { code?: string }).code !== "ERR_REDIS_SERVER_ERROR") this.drop(c);
      throw e;
    }
  }

  /** Close the current socket (pending calls reject); the next call opens a new one. */
  drop(c: RedisClient | null = this.client): void {
    if (c && c === this.client) this.client = null;
    c?.close();
  }

  close(): void {
    this.closed = true;
    this.drop();
  }
}

// Connections to Redis, built around what Bun's client does not do (shared/reference/bun-redis-client.md):
// 1. It has no command timeout: every call here has one; a call that times out drops its connection, since a
//    stalled socket (frozen server, black hole) never recovers by itself.
// 2. It gives up reconnecting after ~31 s and loses SELECT on reconnect: we turn its reconnection off and
//    open a fresh client ourselves on the next call, so outages of any length heal and a unix socket's db
//    index is selected again on every connection.
// 3. One client per blocking command: callers create one RedisConn per blocking loop.
import { RedisClient } from "bun";
import { ConnectionError, RedisTimeoutError } from "./errors";
import type { RedisTarget } from "./uri";

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

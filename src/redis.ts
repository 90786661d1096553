// Connections to Redis, built around what Bun's client does not do (shared/reference/bun-redis-client.md):
// 1. It has no command timeout: every call here has one; a call that times out drops its connection, since a
//    stalled socket (frozen server, black hole) never recovers by itself.
// 2. It gives up reconnecting after ~31 s and loses SELECT on reconnect: we turn its reconnection off and
//    open a fresh client ourselves on the next call, so outages of any length heal and a unix socket's db
//    index is selected again on every connection.
// 3. One client per blocking command: callers create one RedisConn per blocking loop.
// 4. With Redis Sentinel (redis+sentinel://) the address changes on a failover: every new connection asks the
//    sentinels for the primary (sentinel.ts), and a connection is replaced after a connection loss, after a
//    reply that says "this server is a replica" (READONLY, MASTERDOWN), and when a sentinel announces a switch.
import { RedisClient } from "bun";
import { ConnectionError, RedisTimeoutError } from "./errors";
import { formatAddr, primaryUrl, resolvePrimary, sameAddr, switchCount, switchedAway, watchFailovers } from "./sentinel";
import type { HostPort, RedisTarget } from "./uri";

// OOM: the server is at maxmemory; jobs finishing frees memory (acks delete state), so waiting can cure it.
const TRANSIENT_REPLIES = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|READONLY|NOREPLICAS|OOM)\b/;
// Replies of a server that is (now) a replica: a failover happened, and a new connection may find the primary.
const REPLICA_REPLIES = /^(READONLY|MASTERDOWN)\b/;

/** True for errors that a retry can cure: connection loss, timeouts, a server still loading its data, at maxmemory, or demoted. */
export function isTransient(e: unknown): boolean {
  if (e instanceof RedisTimeoutError || e instanceof ConnectionError) return true;
  const code = (e as { code?: string } | null)?.code;
  if (code === "ERR_REDIS_SERVER_ERROR") return TRANSIENT_REPLIES.test((e as Error).message);
  if (code === "ERR_REDIS_AUTHENTICATION_FAILED" || code === "ERR_REDIS_INVALID_PASSWORD") return false;
  return typeof code === "string" && code.startsWith("ERR_REDIS");
}

/**
 * True when the connection that gave `e` must be replaced: every transient failure except a server's reply,
 * since a server that answered is still there, unless it answered as a replica: the old primary after a
 * failover, which a new connection (through the sentinels, or a DNS name that moved) no longer reaches.
 */
export function mustReconnect(e: unknown): boolean {
  if (!isTransient(e)) return false;
  return (e as { code?: string }).code !== "ERR_REDIS_SERVER_ERROR" || isReplicaReply(e);
}

/** READONLY or MASTERDOWN: the server that answered is a replica. */
export function isReplicaReply(e: unknown): boolean {
  return (e as { code?: string } | null)?.code === "ERR_REDIS_SERVER_ERROR" && REPLICA_REPLIES.test((e as Error).message);
}

// A timer that fires this much after its time was held up by a blocked event loop (a job's synchronous loop,
// issue #14): the answer may be waiting unread, so it gets one more short wait before the call counts as timed out.
const LATE_TIMER_MS = 100;

export function timed<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const due = Date.now() + ms;
  const t = new Promise<never>((_, reject) => {
    let graced = false;
    const fire = () => {
      if (!graced && Date.now() - due > LATE_TIMER_MS) {
        graced = true;
        timer = setTimeout(fire, Math.min(ms, 250));
        return;
      }
      reject(new RedisTimeoutError(`${what}: no answer from Redis within ${ms} ms`));
    };
    timer = setTimeout(fire, ms);
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
  if (target.sentinel) return openFollowingClient(target, timeoutMs);
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

// How often the shared client of a sentinel target looks whether its connection is down. Bun's client reports
// an outage only through `connected` (bun-redis-client.md), and keeps reconnecting to the address it was given.
const FOLLOW_CHECK_MS = 500;

/**
 * The shared client for a sentinel target. `redis()` hands job code one RedisClient for the life of the
 * worker, and Bun's client cannot change its address, so this is a Proxy that behaves as a RedisClient
 * (`instanceof RedisClient` holds) and forwards every property to the real client for the current primary.
 * That client is replaced by one for the new primary when a sentinel announces a switch, when a call gets
 * a replica's reply (READONLY, MASTERDOWN), or while its connection is down and the sentinels name another
 * address. Calls in flight on the old client when it is replaced reject ("Connection closed") rather than
 * being sent to the new primary, so job code sees an error it can retry; `duplicate()` and subscriptions
 * belong to the client of the moment.
 */
async function openFollowingClient(target: RedisTarget, timeoutMs: number): Promise<RedisClient> {
  const sentinel = target.sentinel as NonNullable<RedisTarget["sentinel"]>;
  const connectTo = async (): Promise<{ client: RedisClient; addr: HostPort }> => {
    const switches = switchCount(sentinel);
    const addr = await resolvePrimary(sentinel, timeoutMs);
    // The db goes in the URL: Bun's client selects it again on every reconnect (a SELECT sent by hand is lost).
    const client = new RedisClient(primaryUrl(sentinel, addr, target.db), { connectionTimeout: timeoutMs, maxRetries: 0xffffffff });
    try {
      await timed(client.connect(), timeoutMs, "shared client connect");
      const moved = switchedAway(sentinel, switches, addr);
      if (moved) throw new ConnectionError(`a failover to ${formatAddr(moved)} was announced while connecting to ${formatAddr(addr)}`);
    } catch (e) {
      client.close();
      throw e;
    }
    return { client, addr };
  };
  let first: { client: RedisClient; addr: HostPort };
  try {
    first = await connectTo();
  } catch (e) {
    throw new ConnectionError(`cannot reach Redis at ${target.display}: ${(e as Error).message}`);
  }
  let { client: current, addr } = first;
  let closed = false;
  let moving: Promise<void> | null = null;
  // Hooks job code set on the client, carried over to each replacement.
  const hooks: { onconnect?: unknown; onclose?: unknown } = {};
  const move = (to: HostPort | null): void => {
    if (closed || moving || (to && sameAddr(to, addr))) return;
    moving = (async () => {
      const next = await connectTo();
      if (closed || (sameAddr(next.addr, addr) && current.connected)) return next.client.close();
      const old = current;
      for (const [k, v] of Object.entries(hooks)) Reflect.set(next.client, k, v);
      current = next.client;
      addr = next.addr;
      Reflect.set(old, "onclose", null);
      old.close();
    })()
      // No primary yet (the sentinels are still electing one): the next check or reply tries again.
      .catch(() => {})
      .finally(() => (moving = null));
  };
  const timer = setInterval(() => {
    if (!current.connected) move(null);
  }, FOLLOW_CHECK_MS);
  // Never what keeps a process alive: an idle RedisClient does not either.
  timer.unref();
  const unwatch = watchFailovers(sentinel, (primary) => move(primary), false);
  const close = (): void => {
    closed = true;
    clearInterval(timer);
    unwatch();
    current.close();
  };
  return new Proxy(Object.create(RedisClient.prototype) as RedisClient, {
    get(_target, prop) {
      if (prop === "close") return close;
      const c = current;
      const v: unknown = Reflect.get(c, prop, c);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        const r: unknown = (v as (...a: unknown[]) => unknown).apply(c, args);
        // Only watched, never swallowed: the caller still gets the rejection.
        if (r instanceof Promise) r.catch((e: unknown) => void (isReplicaReply(e) && move(null)));
        return r;
      };
    },
    set(_target, prop, value) {
      if (prop === "onconnect" || prop === "onclose") hooks[prop] = value;
      return Reflect.set(current, prop, value);
    },
  });
}

/** One Redis connection that replaces itself after any connection-level failure. */
export class RedisConn {
  private client: RedisClient | null = null;
  /** Where `client` is connected, for a sentinel target: a switch to another address drops it. */
  private addr: HostPort | null = null;
  private unwatch: (() => void) | null = null;
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
    this.opening ??= this.openOnce().finally(() => (this.opening = null));
    return this.opening;
  }

  /**
   * A connect whose timeout fired long after its time failed because the event loop was blocked (a job's
   * synchronous loop, issue #14), not because Redis was away: it is tried once more before anyone hears of it.
   */
  private async openOnce(): Promise<RedisClient> {
    const started = Date.now();
    try {
      return await this.open();
    } catch (e) {
      if (this.closed || Date.now() - started < this.timeoutMs + 1000 || !/timeout/i.test((e as Error).message)) throw e;
      return this.open();
    }
  }

  private async open(): Promise<RedisClient> {
    this.drop();
    const sentinel = this.target.sentinel;
    const switches = sentinel ? switchCount(sentinel) : 0;
    // Asked anew for every connection: after a failover the next connection goes to the new primary.
    const addr = sentinel ? await resolvePrimary(sentinel, this.timeoutMs) : null;
    const url = sentinel && addr ? primaryUrl(sentinel, addr, this.target.db) : this.target.url;
    // The offline queue only matters before the first connect here (no auto-reconnect): it lets the PING below
    // ride along with connect() and report the real reason a connection is refused.
    const c = new RedisClient(url, {
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
      const moved = sentinel && addr ? switchedAway(sentinel, switches, addr) : null;
      if (moved && addr) throw new ConnectionError(`${this.name}: a failover to ${formatAddr(moved)} was announced while connecting to ${formatAddr(addr)}`);
    } catch (e) {
      c.close();
      throw e;
    }
    if (this.closed) {
      c.close();
      throw new ConnectionError(`${this.name}: connection closed`);
    }
    this.client = c;
    this.addr = addr;
    // Held from the first connection that worked until close(), so that a worker that never reached Redis
    // leaves no subscription behind to keep its process alive.
    if (sentinel && !this.unwatch) this.unwatch = watchFailovers(sentinel, (primary) => this.switched(primary), true);
    return c;
  }

  /** A sentinel announced a new primary: leave the old one now, while it may still accept writes that will be lost. */
  private switched(primary: HostPort): void {
    if (this.client && !sameAddr(this.addr, primary)) this.drop();
  }

  /** Run one call; on a timeout, a connection failure or a replica's reply the connection is dropped and the error rethrown. */
  async run<T>(f: (c: RedisClient) => Promise<T>, what: string, timeoutMs = this.timeoutMs): Promise<T> {
    const c = await this.ready();
    try {
      return await timed(f(c), timeoutMs, `${this.name} ${what}`);
    } catch (e) {
      if (mustReconnect(e)) this.drop(c);
      throw e;
    }
  }

  /** Close the current socket (pending calls reject); the next call opens a new one. */
  drop(c: RedisClient | null = this.client): void {
    if (c && c === this.client) {
      this.client = null;
      this.addr = null;
    }
    c?.close();
  }

  close(): void {
    this.closed = true;
    this.unwatch?.();
    this.unwatch = null;
    this.drop();
  }
}

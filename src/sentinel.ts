// Redis Sentinel (redis+sentinel:// URIs), as Resque (redis-rb), Sidekiq and BullMQ support it:
// 1. resolvePrimary(): ask each sentinel in turn where the named master is (SENTINEL get-master-addr-by-name,
//    one short-lived client with a short timeout per sentinel, always closed); the first answer that checks out
//    wins. A sentinel can be stale (partitioned, or not yet told of a failover), so the address it names is
//    verified with ROLE on a connection of its own before anyone uses it; a replica there means "ask the next".
// 2. watchFailovers(): one subscription per sentinel to +switch-master, which each sentinel publishes the
//    moment it adopts a new primary. A manual failover (SENTINEL FAILOVER) leaves the old primary writable
//    until the sentinels demote it several seconds later (about 10 s on Redis 7.0, measured), and every write
//    it takes meanwhile is lost when it resyncs as a replica: waiting for READONLY or a dropped connection
//    alone would keep a worker on the wrong side all that time. What remains is the time from the replica's
//    promotion to the announcement (about 1 s: the sentinels notice the promotion on their next INFO).
//    The sentinel that announced a switch is asked first from then on, since it is known to have the new
//    configuration, and a connection opened while a switch was announced is checked against it (switchedAway).
import { RedisClient } from "bun";
import { ConnectionError } from "./errors";
import type { HostPort, SentinelTarget } from "./uri";

/** Per sentinel, per query: a sentinel that does not answer within this is skipped for the next one. */
const SENTINEL_TIMEOUT_MS = 1000;
/** Bun's client may not report a dropped subscriber connection (bun-redis-client.md): look this often. */
const LIVENESS_CHECK_MS = 1000;
const RESUBSCRIBE_MAX_MS = 2000;

export function formatAddr(a: HostPort): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export function sameAddr(a: HostPort | null, b: HostPort | null): boolean {
  return a !== null && b !== null && a.host === b.host && a.port === b.port;
}

function userinfo(username: string, password: string): string {
  if (!password && !username) return "";
  return `${encodeURIComponent(username)}:${encodeURIComponent(password)}@`;
}

/** The URL of the primary at `addr`, with the URI's credentials and db, which Bun's client restores on every reconnect. */
export function primaryUrl(s: SentinelTarget, addr: HostPort, db: number): string {
  return `redis://${userinfo(s.username, s.password)}${formatAddr(addr)}${db ? `/${db}` : ""}`;
}

function sentinelUrl(s: SentinelTarget, h: HostPort): string {
  return `redis://${userinfo(s.sentinelUsername, s.sentinelPassword)}${formatAddr(h)}`;
}

/** One line, and never a password, whatever a server or the client put in an error message. */
function reason(e: unknown, s: SentinelTarget): string {
  let m = String((e as Error)?.message ?? e).replace(/\s+/g, " ").trim();
  for (const secret of [s.password, s.sentinelPassword]) if (secret) m = m.split(secret).join("***");
  return m || "no reason given";
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** One command on a client of its own, closed whatever happens. */
async function once(url: string, cmd: string, args: string[], timeoutMs: number, what: string): Promise<unknown> {
  const c = new RedisClient(url, { autoReconnect: false, connectionTimeout: timeoutMs });
  try {
    return await withTimeout(c.send(cmd, args), timeoutMs, what);
  } finally {
    c.close();
  }
}

/** What one sentinel says: the address, or null when it monitors no master of that name. */
async function ask(s: SentinelTarget, h: HostPort, timeoutMs: number): Promise<HostPort | null> {
  const reply = await once(sentinelUrl(s, h), "SENTINEL", ["get-master-addr-by-name", s.master], timeoutMs, "SENTINEL get-master-addr-by-name");
  if (reply === null) return null;
  const [host, port] = Array.isArray(reply) ? reply : [];
  if (typeof host !== "string" || !Number(port)) throw new Error(`unexpected reply ${JSON.stringify(reply)}`);
  return { host, port: Number(port) };
}

/** ROLE on the named address: its first element is "master" only on a primary. */
async function checkPrimary(s: SentinelTarget, addr: HostPort, timeoutMs: number): Promise<void> {
  const role = await once(primaryUrl(s, addr, 0), "ROLE", [], timeoutMs, "ROLE");
  const name = Array.isArray(role) ? String(role[0]) : String(role);
  if (name !== "master") throw new Error(`it is a ${name === "slave" ? "replica" : name}, not a primary`);
}

/** Shared by every connection to one set of sentinels and master name: who to ask first, who to tell of a switch. */
interface SentinelGroup {
  /** The sentinels in the order they are asked: whoever announced the latest switch first. */
  order: HostPort[];
  /** Connections that keep the subscriptions open; at 0 they are closed (a subscribed client keeps a process alive). */
  holders: number;
  listeners: Set<(primary: HostPort) => void>;
  stop: AbortController | null;
  /** Switches heard so far, and the latest announced primary. */
  switches: number;
  announced: HostPort | null;
}

const groups = new Map<string, SentinelGroup>();

function groupOf(s: SentinelTarget): SentinelGroup {
  const key = `${s.master}\n${s.hosts.map(formatAddr).join(",")}\n${s.sentinelUsername}`;
  let g = groups.get(key);
  if (!g) {
    g = { order: [...s.hosts], holders: 0, listeners: new Set(), stop: null, switches: 0, announced: null };
    groups.set(key, g);
  }
  return g;
}

/**
 * The current primary of `s.master`: each sentinel is asked in turn (each within its own short timeout) and
 * the first address that answers ROLE as a primary wins. Throws a one-line ConnectionError (transient: the
 * caller retries with backoff) when no sentinel answers, none knows the master, or none names a primary.
 */
export async function resolvePrimary(s: SentinelTarget, timeoutMs: number): Promise<HostPort> {
  const perQuery = Math.min(timeoutMs, SENTINEL_TIMEOUT_MS);
  const failures: string[] = [];
  let unknown = 0;
  const order = [...groupOf(s).order];
  for (const h of order) {
    let addr: HostPort | null;
    try {
      addr = await ask(s, h, perQuery);
    } catch (e) {
      failures.push(`${formatAddr(h)}: ${reason(e, s)}`);
      continue;
    }
    if (!addr) {
      unknown++;
      failures.push(`${formatAddr(h)}: does not know it`);
      continue;
    }
    try {
      await checkPrimary(s, addr, perQuery);
      return addr;
    } catch (e) {
      failures.push(`${formatAddr(h)} names ${formatAddr(addr)}, but ${reason(e, s)}`);
    }
  }
  if (unknown === order.length) throw new ConnectionError(`no sentinel knows a master named "${s.master}" (asked ${order.map(formatAddr).join(", ")})`);
  throw new ConnectionError(`no primary for master "${s.master}" from the sentinels: ${failures.join("; ")}`);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** "+switch-master <name> <old-ip> <old-port> <new-ip> <new-port>": the new address when it is about our master. */
export function parseSwitch(message: string, master: string): HostPort | null {
  const f = message.trim().split(/\s+/);
  if (f.length !== 5 || f[0] !== master || !Number(f[4])) return null;
  return { host: f[3] as string, port: Number(f[4]) };
}

/** Subscribed to one sentinel's +switch-master until `stop` aborts; resubscribes with backoff after any loss. */
async function subscribe(s: SentinelTarget, g: SentinelGroup, h: HostPort, stop: AbortSignal): Promise<void> {
  for (let attempt = 0; !stop.aborted; attempt++) {
    const c = new RedisClient(sentinelUrl(s, h), { autoReconnect: false, connectionTimeout: SENTINEL_TIMEOUT_MS });
    const close = () => c.close();
    stop.addEventListener("abort", close, { once: true });
    try {
      await withTimeout(
        c.subscribe("+switch-master", (message) => {
          const primary = parseSwitch(String(message), s.master);
          if (!primary) return;
          // This sentinel has the new configuration: ask it first from now on.
          g.order = [h, ...g.order.filter((o) => !sameAddr(o, h))];
          g.switches++;
          g.announced = primary;
          for (const l of [...g.listeners]) l(primary);
        }),
        SENTINEL_TIMEOUT_MS,
        "SUBSCRIBE +switch-master",
      );
      attempt = 0;
      while (!stop.aborted && c.connected) await sleep(LIVENESS_CHECK_MS, stop);
    } catch {
      // A sentinel that is down is skipped here; the others still announce, and resolvePrimary reports it.
    } finally {
      stop.removeEventListener("abort", close);
      c.close();
    }
    await sleep(Math.min(RESUBSCRIBE_MAX_MS, 50 * 2 ** Math.min(attempt, 6)), stop);
  }
}

/** How many switches have been announced so far: taken before resolving, compared after connecting. */
export function switchCount(s: SentinelTarget): number {
  return groupOf(s).switches;
}

/**
 * The primary announced since `before` (a switchCount()) if it is not `addr`: a connection opened meanwhile
 * may have been sent to the old primary by a sentinel that had not heard of the switch yet.
 */
export function switchedAway(s: SentinelTarget, before: number, addr: HostPort): HostPort | null {
  const g = groupOf(s);
  return g.switches !== before && g.announced && !sameAddr(g.announced, addr) ? g.announced : null;
}

/**
 * Call `onSwitch` with the new address whenever a sentinel announces a failover of `s.master`. A holder keeps
 * the subscriptions open (one connection per sentinel) until it unwatches; a passive watcher (hold = false)
 * only hears of switches while some holder does, because a subscribed client would keep the process alive.
 * Returns the function that stops watching.
 */
export function watchFailovers(s: SentinelTarget, onSwitch: (primary: HostPort) => void, hold: boolean): () => void {
  const g = groupOf(s);
  g.listeners.add(onSwitch);
  if (hold && g.holders++ === 0) {
    const stop = new AbortController();
    g.stop = stop;
    for (const h of s.hosts) void subscribe(s, g, h, stop.signal);
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    g.listeners.delete(onSwitch);
    if (hold && --g.holders === 0) {
      g.stop?.abort();
      g.stop = null;
    }
  };
}

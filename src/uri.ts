// Redis URIs: parsing redis://, rediss://, unix:// and redis+sentinel:// into what a connection needs, and
// redaction of passwords for anything a person or a log may see.
import { SettingsError } from "./errors";

export interface HostPort {
  host: string;
  port: number;
}

/** Where Redis Sentinel says the primary is (redis+sentinel://). */
export interface SentinelTarget {
  /** The sentinels, asked in this order. */
  hosts: HostPort[];
  /** The name the sentinels monitor the primary under (`sentinel monitor <name> ...`). */
  master: string;
  /** Credentials for the sentinels themselves (?sentinelUsername=, ?sentinelPassword=); "" for none. */
  sentinelUsername: string;
  sentinelPassword: string;
  /** Credentials for the primary (the URI's user:password@); "" for none. */
  username: string;
  password: string;
}

export interface RedisTarget {
  /** What Bun's client is given. For a sentinel target only a label (the redacted URI, which Bun's client refuses): the address comes from the sentinels. */
  url: string;
  /** The URI with any password replaced by ***, for logs and errors. */
  display: string;
  tls: boolean | { ca?: string; rejectUnauthorized: boolean };
  /**
   * Sent after connecting: unix socket URLs cannot carry a db index or credentials for Bun's client. A sentinel
   * target's db is also sent with SELECT (and put in the URL of each primary); its credentials are in `sentinel`.
   */
  db: number;
  password: string;
  username: string;
  /** Set for redis+sentinel:// URIs: every new connection asks the sentinels for the current primary. */
  sentinel?: SentinelTarget;
}

const SENTINEL_SCHEME = "redis+sentinel://";
const DEFAULT_SENTINEL_PORT = 26379;
/** Query parameters of a redis+sentinel:// URI. */
const SENTINEL_PARAMS = ["sentinelUsername", "sentinelPassword"];

/** Where the credentials of a URI end: the last "@" (a password may hold "@" or "/"), or for unix:// the "@/" before the absolute path. */
function credentialEnd(scheme: string, rest: string): number {
  if (scheme.toLowerCase() !== "unix://" || !rest.startsWith("/")) {
    const beforePath = scheme.toLowerCase() === "unix://" ? rest.indexOf("@/") : -1;
    return beforePath >= 0 ? beforePath : rest.lastIndexOf("@");
  }
  return -1;
}

/** A query parameter whose value may be a secret (sentinelPassword=, password=, pw=, ...), typos included ("Pasword"). */
const SECRET_PARAM = /pas|pw|secret|token|auth|cred|key/i;

/**
 * The URI with every password replaced by ***: the credentials before the last "@" (the user name is kept
 * when a ":" separates it), and the value of any query parameter named like a password. Anything that looks
 * like credentials is hidden whether or not the URI has a well-formed scheme: `user:pw@host`, `:pw@host` and
 * `redis:/u:pw@host` are mistakes a person makes on a command line, and then their error echoes the URI.
 */
export function redact(uri: string): string {
  // Secret query values first, so that an "@" inside one is not taken for the end of the credentials.
  const q = uri.indexOf("?");
  const masked = q < 0 ? uri : uri.slice(0, q) + uri.slice(q).replace(/([?&]([^=&#]*)=)([^&#]*)/g, (all, head: string, key: string) => (SECRET_PARAM.test(key) ? `${head}***` : all));
  // A scheme as written, well-formed or not: "redis://", "redis:/", "user:" (then it is the user name).
  const scheme = /^[a-z][a-z0-9+.-]*:\/{0,2}/i.exec(masked)?.[0] ?? "";
  const normal = /:\/\/$/.test(scheme) ? scheme : "";
  const rest = masked.slice(scheme.length);
  const at = normal ? credentialEnd(normal, rest) : rest.lastIndexOf("@");
  if (at < 0) return masked;
  const cred = rest.slice(0, at);
  // With no "//" the "scheme" may be the user name itself (`user:pw@host`): then everything before "@" is secret but the user.
  const colon = cred.indexOf(":");
  return `${scheme}${colon < 0 ? "***" : `${cred.slice(0, colon)}:***`}${rest.slice(at)}`;
}

export interface TlsSettings {
  insecureTls: boolean;
  tlsCert: string;
}

/** Parse a redis://, rediss://, unix:// or redis+sentinel:// URI; throws SettingsError naming what is wrong. */
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
  if (scheme === "redis+sentinel") return parseSentinel(uri, display);
  throw new SettingsError(`--uri: unsupported scheme in "${display}" (use redis://, rediss:// or unix://)`);
}

const SENTINEL_FORM = "redis+sentinel://[[user]:password@]host:26379[,host:26379...]/<master-name>[/<db>]";

function decode(part: string, display: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new SettingsError(`--uri: bad percent-encoding in "${display}"`);
  }
}

/** One sentinel address: host, host:port, [v6] or [v6]:port; the port defaults to Sentinel's 26379. */
function parseSentinelHost(text: string, display: string): HostPort {
  if (!text) throw new SettingsError(`--uri: empty sentinel host in "${display}" (hosts are separated by single commas)`);
  const m = /^\[([0-9a-fA-F:.]+)\](?::(.*))?$/.exec(text) ?? /^([^:[\]]*)(?::(.*))?$/.exec(text);
  const host = m?.[1] ?? "";
  const port = m?.[2];
  if (!host || !/^[A-Za-z0-9._:-]+$/.test(host)) throw new SettingsError(`--uri: bad sentinel host "${text}" in "${display}" (an IPv6 address goes in brackets: [::1]:26379)`);
  if (port === undefined) return { host, port: DEFAULT_SENTINEL_PORT };
  const n = /^\d{1,5}$/.test(port) ? Number(port) : 0;
  if (n < 1 || n > 65535) throw new SettingsError(`--uri: bad sentinel port "${port}" in "${display}" (1-65535)`);
  return { host, port: n };
}

/**
 * redis+sentinel://[[user]:password@]host1:26379[,host2:26379...]/<master-name>[/<db>][?sentinelPassword=...]
 * The credentials before "@" are the primary's (as in redis://); the sentinels' own, if they have any, are the
 * query parameters sentinelUsername= and sentinelPassword=. Characters "?", "/" or "@" in the master name and "?"
 * in a password must be percent-encoded.
 */
function parseSentinel(uri: string, display: string): RedisTarget {
  const rest = uri.slice(SENTINEL_SCHEME.length);
  const q = rest.indexOf("?");
  const main = q < 0 ? rest : rest.slice(0, q);
  const at = main.lastIndexOf("@");
  const cred = at >= 0 ? main.slice(0, at) : "";
  const afterCred = main.slice(at + 1);
  const slash = afterCred.indexOf("/");
  const hostList = slash < 0 ? afterCred : afterCred.slice(0, slash);
  const path = slash < 0 ? "" : afterCred.slice(slash + 1);
  if (!hostList) throw new SettingsError(`--uri: no sentinel hosts in "${display}" (${SENTINEL_FORM})`);
  const hosts = hostList.split(",").map((h) => parseSentinelHost(h, display));
  const [masterPart = "", dbGiven, ...extra] = path.split("/");
  const dbPart = dbGiven || undefined; // "/mymaster/" has no db
  if (!masterPart) throw new SettingsError(`--uri: no master name in "${display}" (${SENTINEL_FORM})`);
  if (extra.length) throw new SettingsError(`--uri: expected /<master-name>[/<db>] after the sentinel hosts, got "/${path}" in "${display}"`);
  if (dbPart !== undefined && !/^\d+$/.test(dbPart)) throw new SettingsError(`--uri: database must be a number, got "${dbPart}" in "${display}"`);
  const params = new URLSearchParams(q < 0 ? "" : rest.slice(q + 1));
  for (const key of params.keys()) {
    if (!SENTINEL_PARAMS.includes(key)) throw new SettingsError(`--uri: unknown parameter "${key}" in "${display}" (redis+sentinel:// takes ${SENTINEL_PARAMS.join(", ")})`);
  }
  const colon = cred.indexOf(":");
  return {
    // Bun's client refuses this scheme: a connection made from it by mistake fails loudly instead of going somewhere else.
    url: display,
    display,
    tls: false,
    db: dbPart === undefined ? 0 : Number(dbPart),
    username: "",
    password: "",
    sentinel: {
      hosts,
      master: decode(masterPart, display),
      sentinelUsername: params.get("sentinelUsername") ?? "",
      sentinelPassword: params.get("sentinelPassword") ?? "",
      username: colon >= 0 ? decode(cred.slice(0, colon), display) : "",
      password: decode(colon >= 0 ? cred.slice(colon + 1) : cred, display),
    },
  };
}

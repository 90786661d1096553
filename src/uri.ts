// Redis URIs: parsing redis://, rediss:// and unix:// into what a connection needs, and redaction of passwords
// for anything a person or a log may see.
import { SettingsError } from "./errors";

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

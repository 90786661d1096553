// What every operator subcommand shares: the Redis flags (as the worker's), --json, one dedicated connection,
// output as an aligned table on a terminal or JSON when asked or piped, and progress on a terminal only.
import type { RedisClient } from "bun";
import type { ArgsDef } from "citty";
import { SettingsError } from "../errors";
import { makeKeys, type Keys } from "../keys";
import { RedisConn } from "../redis";
import { defaultSettings } from "../settings";
import { parseUri } from "../uri";

export const redisArgs = {
  uri: { type: "string", description: "redis://[user:pass@]host:port/db (default $REDIS_URL, then the variable $REDIS_PROVIDER names, then redis://localhost:6379/)", valueHint: "uri" },
  namespace: { type: "string", description: "key prefix, colon included (default resque:)", valueHint: "ns" },
  "tls-cert": { type: "string", description: "PEM file of the CA that signed the server's certificate", valueHint: "file" },
  "insecure-tls": { type: "boolean", description: "do not verify the server's TLS certificate" },
} as const satisfies ArgsDef;

export const jsonArg = {
  json: { type: "boolean", description: "print JSON (the default when output is not a terminal)" },
} as const satisfies ArgsDef;

export const helpArg = { help: { type: "boolean", description: "show this help", alias: "h" } } as const satisfies ArgsDef;

export type Flags = Record<string, unknown>;

export interface Session {
  client: RedisClient;
  keys: Keys;
  /** The URI with any password hidden. */
  display: string;
  close(): void;
}

export async function connect(flags: Flags, env: Record<string, string | undefined> = process.env): Promise<Session> {
  const d = defaultSettings(env);
  const uri = typeof flags.uri === "string" ? flags.uri : d.uri;
  const namespace = typeof flags.namespace === "string" ? flags.namespace : d.namespace;
  const target = parseUri(uri, { tlsCert: typeof flags["tls-cert"] === "string" ? flags["tls-cert"] : "", insecureTls: flags["insecure-tls"] === true });
  const conn = new RedisConn(target, d.commandTimeout * 1000, "bunworker");
  let client: RedisClient;
  try {
    client = await conn.ready();
  } catch (e) {
    conn.close();
    throw new Error(`cannot reach Redis at ${target.display}: ${(e as Error).message}`);
  }
  return { client, keys: makeKeys(namespace), display: target.display, close: () => conn.close() };
}

/** JSON when --json was given or stdout is not a terminal. */
export const wantsJson = (flags: Flags, stdout: { isTTY?: boolean } = process.stdout): boolean => flags.json === true || !stdout.isTTY;

export function print(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

/** Work over more items than this shows progress (on a terminal). */
export const PROGRESS_OVER = 1000;

/** A progress line on stderr, rewritten in place, only when stderr is a terminal and the work is long; done() clears it. */
export function progress(label: string, stderr: { isTTY?: boolean; write(s: string): unknown } = process.stderr): { update(done: number, total: number): void; done(): void } {
  if (!stderr.isTTY) return { update: () => {}, done: () => {} };
  let last = 0;
  let shown = false;
  return {
    update(done, total) {
      if (total <= PROGRESS_OVER) return;
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      shown = true;
      stderr.write(`\r${label} ${done}/${total} (${total ? Math.floor((done * 100) / total) : 100} %)\u001b[K`);
    },
    done() {
      if (shown) stderr.write("\r\u001b[K");
      shown = false;
    },
  };
}

/** A non-negative integer flag or positional, or a SettingsError naming it. */
export function count(name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "string" || !/^\d+$/.test(v)) throw new SettingsError(`${name} must be a whole number, got "${String(v)}"`);
  return Number(v);
}

// ActiveJob's argument format (activejob-on-resque.md section 2; ActiveJob::Arguments), both ways (issue #16):
// 1. fromActiveJob: serialized arguments -> plain JS values, every `_aj_*` marker removed or converted;
// 2. toActiveJob: JS values -> the JSON ActiveJob 6.1 writes, so Ruby's `Arguments.deserialize` reads them back.
// Anything without a faithful JS value (an app's custom serializer) is refused with the serializer's name,
// never passed on half-converted.
import { ActiveJobError } from "./errors";

const GLOBALID = "_aj_globalid";
const SERIALIZED = "_aj_serialized";
const SYMBOL_KEYS = "_aj_symbol_keys";
const RUBY2_KEYWORDS = "_aj_ruby2_keywords";
const INDIFFERENT = "_aj_hash_with_indifferent_access";
const RESERVED = new Set([GLOBALID, SERIALIZED, SYMBOL_KEYS, RUBY2_KEYWORDS, INDIFFERENT]);
const S = "ActiveJob::Serializers::";

/** A Rails model reference (`gid://app/Model/id`), what ActiveJob writes for an ActiveRecord argument. */
export class GlobalId {
  readonly app: string;
  /** The model's class name, e.g. "User" or "Admin::User". */
  readonly model: string;
  /** The record's id as a string (GlobalID unescaped; a composite id's parts joined by "/"). */
  readonly id: string;
  readonly params: Readonly<Record<string, string>>;

  constructor(readonly uri: string) {
    const m = /^gid:\/\/([^/?#]+)\/([^/?#]+)\/([^?#]+)(?:\?([^#]*))?$/.exec(uri);
    if (!m) throw new ActiveJobError(`not a GlobalID URI: ${JSON.stringify(uri)}`);
    this.app = m[1]!;
    this.model = m[2]!;
    this.id = m[3]!.split("/").map(unescapeCgi).join("/");
    this.params = Object.fromEntries(new URLSearchParams(m[4] ?? ""));
  }

  /** The GlobalID of record `id` of `model` in `app`, escaped as Ruby's URI::GID.build does. */
  static of(app: string, model: string, id: string | number | bigint): GlobalId {
    return new GlobalId(`gid://${app}/${model}/${encodeURIComponent(String(id)).replace(/%20/g, "+")}`);
  }

  toString(): string {
    return this.uri;
  }

  toJSON(): string {
    return this.uri;
  }
}

// Ruby's CGI.unescape: "+" is a space.
const unescapeCgi = (s: string) => decodeURIComponent(s.replace(/\+/g, " "));

/** What `toActiveJob` accepts: JSON values plus bigint (exact Ruby Integer), Date (Ruby Time) and GlobalId. */
export type ActiveJobArgument = string | number | boolean | null | bigint | Date | GlobalId | ActiveJobArgument[] | { [key: string]: ActiveJobArgument | undefined };

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === "object" && v !== null && !Array.isArray(v);

// "__proto__" from JSON is an ordinary key: copy it as one, never as a prototype change.
function put(o: Plain, k: string, v: unknown): void {
  if (k === "__proto__") Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

const ISO_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

/** Ruby's `Time#iso8601(9)` -> Date (nanoseconds truncated to milliseconds, the precision of a Date). */
function time(value: unknown, where: string, name: string): Date {
  const m = typeof value === "string" ? ISO_TIME.exec(value) : null;
  const d = m ? new Date(`${m[1]}.${(m[2] ?? "").padEnd(3, "0").slice(0, 3)}${m[3]}`) : null;
  if (!d || Number.isNaN(d.getTime())) throw new ActiveJobError(`${where}: ${name} value ${JSON.stringify(value)} is not an ISO 8601 time`);
  return d;
}

function serialized(h: Plain, where: string): unknown {
  const name = h[SERIALIZED];
  switch (name) {
    case `${S}SymbolSerializer`:
    case `${S}ModuleSerializer`:
      if (typeof h.value !== "string") break;
      return h.value;
    case `${S}TimeSerializer`:
    case `${S}TimeWithZoneSerializer`:
    case `${S}DateTimeSerializer`:
      return time(h.value, where, name);
    case `${S}DateSerializer`:
      if (typeof h.value !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(h.value)) break;
      return h.value;
    case `${S}DurationSerializer`:
      if (typeof h.value !== "number" && typeof h.value !== "bigint") break;
      return h.value;
    case `${S}BigDecimalSerializer`: // Rails 7.1+; 6.1 writes the same string unmarked
      if (typeof h.value !== "string") break;
      return h.value;
    case `${S}RangeSerializer`: // Rails 7.1+
      return { begin: convert(h.begin, `${where}.begin`), end: convert(h.end, `${where}.end`), excludeEnd: h.exclude_end === true };
    default:
      throw new ActiveJobError(`${where} uses the serializer ${JSON.stringify(name)}, which bunworker cannot convert (only ActiveJob's built-in serializers are known)`);
  }
  throw new ActiveJobError(`${where}: ${name} has an unexpected value ${JSON.stringify(h.value)}`);
}

function hash(h: Plain, where: string): Plain {
  const out: Plain = {};
  for (const k of Object.keys(h)) {
    if (k === SYMBOL_KEYS || k === RUBY2_KEYWORDS || k === INDIFFERENT) continue;
    put(out, k, convert(h[k], `${where}.${k}`));
  }
  return out;
}

function convert(v: unknown, where: string): unknown {
  if (Array.isArray(v)) return v.map((x, i) => convert(x, `${where}[${i}]`));
  if (!isPlain(v)) return v;
  if (GLOBALID in v && Object.keys(v).length === 1) {
    if (typeof v[GLOBALID] !== "string") throw new ActiveJobError(`${where}: ${GLOBALID} is not a string`);
    return new GlobalId(v[GLOBALID]);
  }
  if (SERIALIZED in v) return serialized(v, where);
  return hash(v, where);
}

/**
 * Ruby's serialized `arguments` -> JS values: symbols and modules as strings, Time/DateTime/TimeWithZone as
 * Date, Date as "YYYY-MM-DD", durations as seconds, models as GlobalId, hashes as plain objects (keyword
 * arguments are the trailing one). Throws ActiveJobError naming the argument it cannot convert.
 */
export function fromActiveJob(args: readonly unknown[]): unknown[] {
  return args.map((a, i) => convert(a, `argument ${i + 1}`));
}

function toValue(v: unknown, where: string): unknown {
  if (v === null || typeof v === "string" || typeof v === "boolean" || typeof v === "bigint") return v;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new ActiveJobError(`${where} is ${v}, which JSON cannot carry`);
    return v;
  }
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new ActiveJobError(`${where} is an invalid Date`);
    return { [SERIALIZED]: `${S}TimeSerializer`, value: `${v.toISOString().slice(0, 23)}000000Z` };
  }
  if (v instanceof GlobalId) return { [GLOBALID]: v.uri };
  if (Array.isArray(v)) return v.map((x, i) => toValue(x, `${where}[${i}]`));
  const proto: unknown = typeof v === "object" ? Object.getPrototypeOf(v) : undefined;
  if (proto !== Object.prototype && proto !== null) throw new ActiveJobError(`${where} is ${describe(v)}, which ActiveJob cannot carry`);
  return toHash(v as Plain, where, SYMBOL_KEYS, []);
}

function toHash(h: Plain, where: string, marker: string, symbolKeys: string[]): Plain {
  const out: Plain = {};
  for (const k of Object.keys(h)) {
    if (RESERVED.has(k)) throw new ActiveJobError(`${where} has the key ${k}, which ActiveJob reserves`);
    if (h[k] === undefined) continue; // as JSON.stringify: an absent option, not nil
    put(out, k, toValue(h[k], `${where}.${k}`));
  }
  out[marker] = symbolKeys;
  return out;
}

const describe = (v: unknown) => (typeof v === "object" ? `a ${(v as object).constructor?.name ?? "object"}` : `a ${typeof v}`);

/**
 * JS values -> ActiveJob 6.1's serialized `arguments`. Objects become Ruby hashes with string keys; `keywords`,
 * if given, become Ruby keyword arguments (symbol keys), the trailing hash as `perform_later(..., k: v)` writes it.
 */
export function toActiveJob(args: readonly ActiveJobArgument[], keywords?: Readonly<Record<string, ActiveJobArgument | undefined>>): unknown[] {
  const out = args.map((a, i) => {
    if (a === undefined) throw new ActiveJobError(`argument ${i + 1} is undefined, which ActiveJob cannot carry`);
    return toValue(a, `argument ${i + 1}`);
  });
  if (keywords) {
    const keys = Object.keys(keywords).filter((k) => keywords[k] !== undefined);
    out.push(toHash(keywords as Plain, "keyword arguments", RUBY2_KEYWORDS, keys));
  }
  return out;
}

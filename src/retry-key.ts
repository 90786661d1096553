// resque-retry's attempt-counter key (reference section 5.1), so that a class run by Ruby (with
// Resque::Plugins::Retry) and by bunworker in one fleet counts its attempts in one place:
//   "resque-retry:<Class>:<sha1hex(args.join('-'))>" with all whitespace removed, or "resque-retry:<Class>"
//   when the joined string is empty.
// Ruby's Array#join is replayed from the args' raw JSON (the decoded JS values cannot tell 1.0 from 1):
// nested arrays flatten with the same separator, nil is "", integers keep every digit, floats print as Ruby's
// Float#to_s, strings are their bytes, true/false as words. A Hash prints as Ruby <= 3.3's Hash#inspect
// ({"h"=>1}); that is exact for string keys with plain values, and cannot match Ruby 3.4's new inspect format
// nor JS's ordering of integer-like keys ({"2":..,"1":..} is read back in another order).
// Bun's own hasher, not node:crypto: loading node:crypto costs ~14 ms of every worker's start-up (#15).

class RubyNumber {
  constructor(readonly source: string) {}
}

type Reviver = (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown;
const keepNumbers: Reviver = (_k, v, ctx) => (typeof v === "number" ? new RubyNumber(ctx?.source ?? String(v)) : v);

/** Ruby's Float#to_s: shortest digits; fixed notation for exponents -4..15 exclusive of 15, else d.ddde+XX. */
export function rubyFloat(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "Infinity" : "-Infinity";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mant = "", expText = "0"] = Math.abs(x).toExponential().split("e");
  const digits = mant.replace(".", "");
  const e = Number(expText);
  if (e < -4 || e >= 15) return `${sign}${digits[0]}.${digits.slice(1) || "0"}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  if (e < 0) return `${sign}0.${"0".repeat(-e - 1)}${digits}`;
  const int = digits.slice(0, e + 1).padEnd(e + 1, "0");
  return `${sign}${int}.${digits.slice(e + 1) || "0"}`;
}

function rubyNumber(n: RubyNumber): string {
  return /^-?\d+$/.test(n.source) ? BigInt(n.source).toString() : rubyFloat(Number(n.source));
}

/** Ruby's String#inspect for the common characters. */
function inspectString(s: string): string {
  return `"${s.replace(/[\\"\n\t\r\f\v\x07\x08\x1b]|#(?=[{$@])/g, (c) => ({ "\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\f": "\\f", "\v": "\\v", "\x07": "\\a", "\x08": "\\b", "\x1b": "\\e", "#": "\\#" })[c] ?? c)}"`;
}

function inspect(v: unknown): string {
  if (v === null || v === undefined) return "nil";
  if (v instanceof RubyNumber) return rubyNumber(v);
  if (typeof v === "string") return inspectString(v);
  if (typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map(inspect).join(", ")}]`;
  return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${inspectString(k)}=>${inspect(x)}`).join(", ")}}`;
}

function join(items: unknown[]): string {
  return items.map((v) => (Array.isArray(v) ? join(v) : v === null || v === undefined ? "" : v instanceof RubyNumber ? rubyNumber(v) : typeof v === "object" ? inspect(v) : String(v))).join("-");
}

/** Ruby's `args.join('-')` for a JSON array of args, from its raw text. */
export function rubyJoin(rawArgs: string): string {
  const args = JSON.parse(rawArgs, keepNumbers as never) as unknown;
  return join(Array.isArray(args) ? args : [args]);
}

/** resque-retry's redis_retry_key for a class and its args' raw JSON (without the namespace). */
export function retryKey(className: string, rawArgs: string): string {
  const joined = rubyJoin(rawArgs);
  const id = joined === "" ? null : new Bun.CryptoHasher("sha1").update(joined).digest("hex");
  return ["resque-retry", className, id].filter((p) => p !== null).join(":").replace(/\s/g, "");
}

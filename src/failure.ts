// A thrown value -> the fields of a Resque failure entry (reference section 4): `exception` is the error's
// class name, `error` its message, `backtrace` always an array of strings. The entry itself is built in one
// place, failureEntry() in lua/include-record.lua, around the payload bytes Redis holds.

export interface FailureFields {
  exception: string;
  error: string;
  backtrace: string[];
}

const MAX_FRAMES = 50;
// Errors bunworker itself raises about a job (bad payload, unknown class, timeout): their stack is ours, not
// the job's, so their backtrace is empty rather than a list of worker internals.
const OWN_ERRORS = new Set(["MalformedPayloadError", "UnknownJobError", "JobTimeoutError", "ActiveJobError"]);
// Like Resque, which keeps the frames above its own job.rb, keep only the frames above the runner's call (or
// above the hooks and middleware that wrap it).
const RUNNER_FRAME = /[/\\]src[/\\](runner|hooks|middleware|typed-job)\.ts:|\brunJob\b/;

const TYPE_NAMES: Record<string, string> = { string: "String", number: "Number", boolean: "Boolean", bigint: "BigInt", symbol: "Symbol", function: "Function" };

function className(value: object): string {
  const ctor = (value as { constructor?: { name?: unknown } }).constructor?.name;
  const name = (value as { name?: unknown }).name;
  if (typeof ctor === "string" && ctor && ctor !== "Error") return ctor;
  if (typeof name === "string" && name) return name;
  return value instanceof Error ? "Error" : "Object";
}

function describe(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    const json = JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
    if (json !== undefined) return json;
  } catch {
    // circular or hostile toJSON: fall back to String()
  }
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Works for any thrown value: Error subclasses, strings, numbers, null, objects with throwing getters. */
export function failureFields(thrown: unknown): FailureFields {
  try {
    return inspect(thrown);
  } catch {
    // A Proxy with throwing traps, or getters that throw: report that much rather than stall the slot.
    return { exception: "Error", error: "a job threw a value that cannot be inspected", backtrace: [] };
  }
}

function inspect(thrown: unknown): FailureFields {
  if (thrown instanceof Error) {
    const stack = typeof thrown.stack === "string" ? thrown.stack.split("\n") : [];
    const exception = className(thrown);
    const frames: string[] = [];
    for (const line of stack) {
      if (!/^\s+at /.test(line)) continue;
      if (RUNNER_FRAME.test(line) || frames.length === MAX_FRAMES) break;
      frames.push(line.trim());
    }
    return { exception, error: String(thrown.message), backtrace: OWN_ERRORS.has(exception) ? [] : frames };
  }
  if (thrown === null || thrown === undefined) return { exception: String(thrown), error: `a job threw ${String(thrown)}`, backtrace: [] };
  const exception = typeof thrown === "object" ? className(thrown) : TYPE_NAMES[typeof thrown] ?? "Error";
  return { exception, error: typeof thrown === "bigint" ? thrown.toString() : describe(thrown), backtrace: [] };
}

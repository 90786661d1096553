// Turning a queue item into a job: the checks behind "a broken job becomes a failure record" (issue #2).
// The raw bytes are never re-serialised: Redis keeps them; this module only decides whether and how to run.
import { MalformedPayloadError } from "./errors";

export interface Job {
  className: string;
  args: unknown[];
  payload: Record<string, unknown>;
}

/** Ruby's JSON parser refuses deeper documents, so Resque's tools could not read them back either. */
export const MAX_DEPTH = 100;

function depthOf(raw: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) max = Math.max(max, ++depth);
    else if (c === 93 || c === 125) depth--;
  }
  return max;
}

// JSON.parse's source-text access (the reviver's third argument) gives exact digits of large integers.
type Reviver = (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown;
const exactIntegers: Reviver = (_key, value, context) => {
  if (typeof value === "number" && !Number.isSafeInteger(value) && context?.source && /^-?\d+$/.test(context.source)) return BigInt(context.source);
  return value;
};

const kind = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v);

export function decodePayload(raw: string, useNumber: boolean): Job {
  if (raw.length > MAX_DEPTH && depthOf(raw) > MAX_DEPTH) throw new MalformedPayloadError(`payload nests deeper than ${MAX_DEPTH} levels, which Resque's JSON parser refuses`);
  let value: unknown;
  try {
    value = useNumber && /\d{16}/.test(raw) ? JSON.parse(raw, exactIntegers as never) : JSON.parse(raw);
  } catch (e) {
    throw new MalformedPayloadError(`payload is not valid JSON (${(e as Error).message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new MalformedPayloadError(`payload must be a JSON object, got ${kind(value)}`);
  const payload = value as Record<string, unknown>;
  const className = payload.class;
  if (typeof className !== "string" || className === "") throw new MalformedPayloadError(`payload has no "class" string (got ${kind(className)})`);
  const args = payload.args ?? [];
  if (!Array.isArray(args)) throw new MalformedPayloadError(`"args" must be an array, got ${kind(args)}`);
  return { className, args, payload };
}

// A malformed queue item's failure entry holds it as the one argument of a Bunworker::MalformedPayload job
// (include-record.lua malformed()), so resque-web can show and retry it. Resque's retry (Failure.requeue)
// pushes that job back to its queue; this built-in job (found by the registry after the registered ones) then
// fails it as malformed again, with the reason the item was refused, instead of as an unknown class (issue #14).
// Its failure entry keeps the same Bunworker::MalformedPayload payload, so a second retry is the same again.
import { MalformedPayloadError } from "./errors";
import { decodePayload } from "./payload";
import type { JobFunction } from "./registry";

export const MALFORMED_CLASS = "Bunworker::MalformedPayload";

/** Throws the reason the held item is not a runnable job. */
export const retriedMalformed: JobFunction = (_queue, ...args) => {
  const item = args[0];
  if (args.length !== 1 || typeof item !== "string") throw new MalformedPayloadError(`a retried ${MALFORMED_CLASS} job must hold one string, the item that was refused`);
  try {
    decodePayload(item, false);
  } catch (e) {
    throw new MalformedPayloadError(`${(e as Error).message} (retried)`);
  }
  // It parses now only if its bytes were not UTF-8: they are kept as the characters \u0080-\u00ff.
  if (/[\u0080-\u00ff]/.test(item)) throw new MalformedPayloadError(`payload is not valid UTF-8 (retried; its bytes are kept as \\u00XX escapes)`);
  throw new MalformedPayloadError(`the held item was refused when first taken and parses now; push it to its queue as it is to run it (retried)`);
};

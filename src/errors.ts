// The few errors bunworker raises itself. Each sets `name`, which becomes the `exception` field of a
// Resque failure entry, so the names are part of what users see in resque-web.

/** A bad flag, setting or environment value. The CLI prints it with the usage line and exits 2. */
export class SettingsError extends Error {
  override name = "SettingsError";
}

/** Redis could not be reached at start-up, or refused our credentials. */
export class ConnectionError extends Error {
  override name = "ConnectionError";
}

/** A queue item that cannot be run: not JSON, not an object, no class, args not an array, ... */
export class MalformedPayloadError extends Error {
  override name = "MalformedPayloadError";
}

/** The payload names a class that no `register()` call provided. */
export class UnknownJobError extends Error {
  override name = "UnknownJobError";
}

/** The job ran past `jobTimeout`; its slot was freed and its AbortSignal fired. */
export class JobTimeoutError extends Error {
  override name = "JobTimeoutError";
}

/** Two `register()` calls for one class name: a build or start-up error, never silent. */
export class DuplicateJobError extends Error {
  override name = "DuplicateJobError";
}

/** A Redis command got no answer within the command timeout (frozen server, black-holed network). */
export class RedisTimeoutError extends Error {
  override name = "RedisTimeoutError";
}

/** An ActiveJob wrapper bunworker cannot run faithfully: a custom serializer's argument, a broken job hash. */
export class ActiveJobError extends Error {
  override name = "ActiveJobError";
}

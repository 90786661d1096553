// A class's retry policy, with resque-retry's semantics (reference section 5.2), as a pure decision:
// given the attempt that just failed (resque-retry's counter: 0 for the first run) and the error, retry after
// how many seconds, or give up. retrier.ts turns the decision into the lane's ack (include-retry.lua).
import { SettingsError } from "./errors";

/** An error class (matched with instanceof, subclasses included), its name, or a predicate. */
export type ErrorRule = string | (abstract new (...args: never[]) => Error) | ((error: unknown) => boolean);

export interface RetryPolicy {
  /** Retries after the first run; 0 = never, negative = forever. Default 1, or the backoff list's length. */
  limit?: number;
  /** Seconds before retry n (indexed by the failed attempt; the last one repeats). Default [0]. */
  delays?: readonly number[];
  /** resque-retry's ExponentialBackoff: delays from this list (default [0, 60, 600, 3600, 10800, 21600]) times a multiplier. */
  backoff?: { strategy?: readonly number[]; multiplierMin?: number; multiplierMax?: number };
  /** Which errors retry: exception class names (the failure's `exception`) or predicates. Default: every error. */
  retryOn?: readonly ErrorRule[];
  /** Errors that never retry (resque-retry's fatal_exceptions); exclusive with retryOn. */
  fatal?: readonly ErrorRule[];
  /** resque-retry's expire_retry_key_after: the counter expires this many seconds after the retry's due time. */
  expireKeyAfter?: number;
}

export const DEFAULT_BACKOFF = [0, 60, 600, 3600, 10800, 21600] as const;

export type RetryDecision = { retry: true; delaySeconds: number } | { retry: false; why: "limit" | "not-retryable" };

/** Refuses a policy resque-retry would refuse, with one line naming what is wrong. */
export function checkPolicy(className: string, p: RetryPolicy): void {
  const where = `retry policy of ${className}`;
  if (p.retryOn && p.fatal) throw new SettingsError(`${where}: retryOn and fatal exclude each other (resque-retry's AmbiguousRetryStrategyException)`);
  if (p.delays && p.backoff) throw new SettingsError(`${where}: give delays or backoff, not both`);
  if (p.expireKeyAfter !== undefined && !(Number.isFinite(p.expireKeyAfter) && p.expireKeyAfter > 0)) throw new SettingsError(`${where}: expireKeyAfter must be seconds > 0, got ${p.expireKeyAfter}`);
  for (const r of [...(p.retryOn ?? []), ...(p.fatal ?? [])]) if (typeof r !== "string" && typeof r !== "function") throw new SettingsError(`${where}: retryOn/fatal take error classes, names or predicates, got ${typeof r}`);
  if (p.limit !== undefined && !Number.isInteger(p.limit)) throw new SettingsError(`${where}: limit must be an integer, got ${p.limit}`);
  for (const d of [...(p.delays ?? []), ...(p.backoff?.strategy ?? [])]) if (!Number.isFinite(d) || d < 0) throw new SettingsError(`${where}: delays must be seconds >= 0, got ${d}`);
  const { multiplierMin = 1, multiplierMax = 1 } = p.backoff ?? {};
  if (!(multiplierMin <= multiplierMax)) throw new SettingsError(`${where}: backoff multiplierMin (${multiplierMin}) is greater than multiplierMax (${multiplierMax})`);
}

const isErrorClass = (r: unknown): r is abstract new (...args: never[]) => Error =>
  typeof r === "function" && (r === Error || (r as { prototype?: unknown }).prototype instanceof Error);

function matches(rules: readonly ErrorRule[], exception: string, error: unknown): boolean {
  return rules.some((r) => (typeof r === "string" ? r === exception || errorNames(error).includes(r) : isErrorClass(r) ? error instanceof r : (r as (e: unknown) => boolean)(error)));
}

/** The error's class and its ancestors' names (a rule naming a base class matches its subclasses, as Ruby's === does). */
function errorNames(error: unknown): string[] {
  const names: string[] = [];
  for (let p = error !== null && typeof error === "object" ? Object.getPrototypeOf(error) : null; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const n = (p as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof n === "string") names.push(n);
  }
  return names;
}

/**
 * resque-retry's decision after attempt `attempt` failed: the limit first (reached when attempt >= limit),
 * then which errors retry; the delay from the list (or backoff × multiplier, truncated to whole seconds).
 * `random` is in [0, 1) (injected for tests).
 */
export function decide(p: RetryPolicy, attempt: number, exception: string, error: unknown, random: () => number = Math.random): RetryDecision {
  const strategy = p.backoff ? (p.backoff.strategy ?? DEFAULT_BACKOFF) : null;
  const limit = p.limit ?? (strategy ? strategy.length : 1);
  if (limit === 0 || (limit > 0 && attempt >= limit)) return { retry: false, why: "limit" };
  if (p.retryOn && !matches(p.retryOn, exception, error)) return { retry: false, why: "not-retryable" };
  if (p.fatal && matches(p.fatal, exception, error)) return { retry: false, why: "not-retryable" };
  if (strategy) {
    const { multiplierMin = 1, multiplierMax = 1 } = p.backoff ?? {};
    const m = multiplierMin === multiplierMax ? 1 : multiplierMin + (multiplierMax - multiplierMin) * random();
    const base = strategy[attempt] ?? strategy[strategy.length - 1] ?? 0;
    return { retry: true, delaySeconds: Math.trunc(base * m) };
  }
  const delays = p.delays ?? [0];
  return { retry: true, delaySeconds: delays[attempt] ?? delays[delays.length - 1] ?? 0 };
}

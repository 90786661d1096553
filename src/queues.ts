// Queue lists: parsing (names, goworker weights, Resque patterns) and the order in which one fetch visits
// them. Semantics follow the reference, section 3:
// 1. Without weights or patterns: strict priority, the order given.
// 2. Weights `high=2,low=1`: each fetch starts from the queue a smooth weighted round-robin picks, so a
//    queue of weight 2 is checked first twice as often; the rest follow in weighted order.
// 3. Patterns (`*`, `?`, `[..]`, `!skip`) make the list dynamic: each pattern is fnmatch'ed against
//    SMEMBERS queues, matches sorted alphabetically, flattened, de-duplicated, skips removed. Braces are
//    literal (Resque calls fnmatch without FNM_EXTGLOB).
import { SettingsError } from "./errors";

export interface QueueSpec {
  name: string;
  weight: number;
  skip: boolean;
}

const GLOB = /[*?{}[\]]/;

export function parseQueues(items: string[]): QueueSpec[] {
  const specs: QueueSpec[] = [];
  for (const raw of items.flatMap((s) => s.split(","))) {
    const item = raw.trim();
    if (!item) continue;
    const eq = item.lastIndexOf("=");
    let name = item;
    let weight = 1;
    if (eq > 0) {
      name = item.slice(0, eq);
      const w = item.slice(eq + 1);
      if (!/^\d+$/.test(w) || Number(w) < 1) throw new SettingsError(`--queues: weight of "${name}" must be a whole number >= 1, got "${w}"`);
      weight = Number(w);
    }
    const skip = name.startsWith("!");
    if (skip) name = name.slice(1);
    if (!name) throw new SettingsError(`--queues: empty queue name in "${item}"`);
    specs.push({ name, weight, skip });
  }
  if (!specs.some((s) => !s.skip)) throw new SettingsError("--queues names no queue to serve (only !skip patterns)");
  return specs;
}

export const isDynamic = (specs: QueueSpec[]) => specs.some((s) => s.skip || GLOB.test(s.name));

/** The queues part of a worker id: the patterns as given, skips removed (Resque's Worker#to_s). */
export const idQueues = (specs: QueueSpec[]) => specs.filter((s) => !s.skip).map((s) => s.name).join(",");

/** Ruby File.fnmatch? without flags: `*`, `?`, `[...]` (with `!`/`^` negation), `\x` escapes; `*` matches `/` too. */
export function fnmatch(pattern: string, text: string): boolean {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === "\\" && i + 1 < pattern.length) re += escapeChar(pattern[++i] as string);
    else if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) return false; // Ruby's matcher fails on an unclosed bracket
      let body = pattern.slice(i + 1, end);
      if (body.startsWith("!") || body.startsWith("^")) body = "^" + body.slice(1);
      re += "[" + body.replace(/\\/g, "\\\\") + "]";
      i = end;
    } else re += escapeChar(c);
  }
  return new RegExp(re + "$", "s").test(text);
}

const escapeChar = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** Resolve a dynamic list against the members of `<ns>queues`, keeping weights of the matching pattern. */
export function resolveQueues(specs: QueueSpec[], known: string[]): QueueSpec[] {
  if (!isDynamic(specs)) return specs.filter((s) => !s.skip);
  const sorted = [...known].sort();
  const skips = specs.filter((s) => s.skip);
  const out = new Map<string, QueueSpec>();
  for (const spec of specs) {
    if (spec.skip) continue;
    for (const q of sorted) {
      if (!out.has(q) && fnmatch(spec.name, q) && !skips.some((k) => fnmatch(k.name, q))) out.set(q, { name: q, weight: spec.weight, skip: false });
    }
  }
  return [...out.values()];
}

/** Smooth weighted round-robin (as nginx balances upstreams): deterministic, and fair within any window. */
export class QueueOrder {
  private current: number[];
  private readonly weighted: boolean;
  /** Each queue's place in `queues`. */
  private readonly positions: Map<string, number>;
  constructor(private readonly specs: QueueSpec[]) {
    this.current = specs.map(() => 0);
    this.weighted = specs.some((s) => s.weight !== 1);
    this.positions = new Map(specs.map((s, i) => [s.name, i]));
  }

  get queues(): readonly QueueSpec[] {
    return this.specs;
  }

  has(name: string): boolean {
    return this.positions.has(name);
  }

  /** Those of `names` that are in this order, in priority order, without walking every queue. */
  among(names: Iterable<string>): string[] {
    const at = (q: string) => this.positions.get(q) as number;
    return [...names].filter((q) => this.positions.has(q)).sort((a, b) => at(a) - at(b));
  }

  /** Indexes into `queues`, in the order the next fetch should visit them. */
  next(): number[] {
    const n = this.specs.length;
    const strict = [...Array(n).keys()];
    if (!this.weighted || n < 2) return strict;
    const total = this.specs.reduce((a, s) => a + s.weight, 0);
    let best = 0;
    for (let i = 0; i < n; i++) {
      this.current[i] = (this.current[i] as number) + (this.specs[i] as QueueSpec).weight;
      if ((this.current[i] as number) > (this.current[best] as number)) best = i;
    }
    this.current[best] = (this.current[best] as number) - total;
    return [best, ...strict.filter((i) => i !== best).sort((a, b) => (this.specs[b] as QueueSpec).weight - (this.specs[a] as QueueSpec).weight)];
  }
}

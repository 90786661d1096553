// Seeded randomness for fault-injection tests: a failure is replayed with the same FAULT_SEED.
// mulberry32 (a small, fast 32-bit generator with a good spread; public domain).

export interface Rng {
  /** A float in [0, 1). */
  (): number;
  readonly seed: number;
  /** A float in [lo, hi). */
  between(lo: number, hi: number): number;
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** A copy of `items` in a random order (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[];
}

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  const next = (() => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }) as Rng;
  Object.assign(next, {
    seed,
    between: (lo: number, hi: number) => lo + next() * (hi - lo),
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p: number) => next() < p,
    pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)] as T,
    shuffle: <T>(items: readonly T[]) => {
      const out = [...items];
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [out[i], out[j]] = [out[j] as T, out[i] as T];
      }
      return out;
    },
  });
  return next;
}

/** The seed of this run: $FAULT_SEED (decimal or 0x hex) or `fallback`; printed so that a failure can be replayed. */
export function faultSeed(fallback: number, what: string): number {
  const env = process.env.FAULT_SEED?.trim();
  const seed = env ? Number(env) >>> 0 : fallback;
  if (env && !Number.isFinite(Number(env))) throw new Error(`FAULT_SEED must be a number, got "${env}"`);
  console.log(`${what}: seed ${seed} (replay with FAULT_SEED=${seed})`);
  return seed;
}

// Small helpers every part of the benchmark uses: progress logging (stderr, so stdout stays JSON lines and
// the table), the epoch clock shared with MONITOR and the Stamp job, and bounded waiting.

export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

/** Epoch milliseconds with sub-millisecond digits; the same clock as MONITOR timestamps and the Stamp job. */
export const epochMs = () => performance.timeOrigin + performance.now();

export const sleep = (ms: number) => Bun.sleep(ms);

/** Resolves after ms, or earlier when `p` settles; never rejects. */
export function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p.then((v) => v, () => undefined), new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), ms)))]).finally(() => clearTimeout(t));
}

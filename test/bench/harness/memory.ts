// A worker's own peak memory (issue #15): VmHWM from /proc/<pid>/status of the worker and every process below
// it, sampled while it runs. The peak that Bun's spawn reports (wait4's ru_maxrss) is useless for this: it
// counts the parent's memory from before exec (a Bun parent holding 217 MB saw 218 MB for `sleep`), so it can
// never show a worker smaller than the harness. VmHWM only grows, so the last sample before exit is the peak to
// within one interval; the default worker also reports its own VmHWM as it exits (bench-worker.ts), which
// closes that gap, and any --worker-cmd is measured by the samples alone.
import { readdirSync, readFileSync } from "node:fs";

const INTERVAL_MS = 50;
/** The line bench-worker.ts writes to stderr as it exits: "bench-vmhwm-kb <pid> <kB>". */
export const SELF_REPORT = /^bench-vmhwm-kb (\d+) (\d+)$/gm;

function statusKb(pid: number): { hwm: number; rss: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const hwm = Number(/^VmHWM:\s+(\d+) kB/m.exec(text)?.[1] ?? NaN);
    const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(text)?.[1] ?? NaN);
    return Number.isFinite(hwm) ? { hwm, rss } : null;
  } catch {
    return null; // gone, or a zombie without memory
  }
}

/** The pid and every descendant (through /proc/<pid>/task/<tid>/children). */
function tree(root: number): number[] {
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop() as number;
    out.push(pid);
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ")) if (c.trim()) todo.push(Number(c));
      } catch {
        /* gone */
      }
    }
  }
  return out;
}

export interface MemoryPeak {
  /** The largest VmHWM of any one process of the tree (the worker itself, or the biggest worker process), MB. */
  peakMb: number;
  /** Sum of every process's VmHWM (an upper bound for the tree at any instant), MB. */
  treeSumMb: number;
  /** VmHWM of the largest process when `fraction` of the run had passed (flatness over a long drain), MB. */
  at(fraction: number): number;
  samples: number;
}

export class PeakSampler {
  private readonly hwm = new Map<number, number>();
  private readonly timeline: { t: number; peakKb: number }[] = [];
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly t0 = performance.now();

  constructor(private readonly root: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), INTERVAL_MS);
  }

  private sample(): void {
    for (const pid of tree(this.root)) {
      const s = statusKb(pid);
      if (s) this.hwm.set(pid, Math.max(this.hwm.get(pid) ?? 0, s.hwm));
    }
    this.timeline.push({ t: performance.now() - this.t0, peakKb: this.peakKb() });
  }

  private peakKb(): number {
    return Math.max(0, ...this.hwm.values());
  }

  /** Stops sampling; `output` is the worker's captured output, which may hold its own exit-time reports. */
  stop(output: string): MemoryPeak {
    clearInterval(this.timer);
    for (const m of output.matchAll(SELF_REPORT)) {
      const pid = Number(m[1]);
      this.hwm.set(pid, Math.max(this.hwm.get(pid) ?? 0, Number(m[2])));
    }
    const end = performance.now() - this.t0;
    const timeline = this.timeline;
    const mb = (kb: number) => Math.round((kb / 1024) * 10) / 10;
    return {
      peakMb: mb(this.peakKb()),
      treeSumMb: mb([...this.hwm.values()].reduce((a, b) => a + b, 0)),
      at: (fraction) => mb([...timeline].reverse().find((s) => s.t <= fraction * end)?.peakKb ?? NaN),
      samples: timeline.length,
    };
  }
}

/** For bench-worker.ts: this process's own VmHWM line, written to stderr just before it exits. */
export function selfReport(): string {
  const s = statusKb(process.pid);
  return s ? `bench-vmhwm-kb ${process.pid} ${s.hwm}\n` : "";
}

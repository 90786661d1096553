// A task that runs every N milliseconds in the background (heartbeat, reaper, queue refresh, and the coming
// promoter and scheduler): ticks never overlap (a slow Redis call skips the next tick rather than piling up),
// a failed tick is reported to the caller's handler and never stops the timer.
export class Periodic {
  private timer: ReturnType<typeof setInterval> | undefined;
  private busy = false;

  constructor(
    private readonly everyMs: number,
    private readonly tick: () => Promise<void>,
    private readonly onError: (e: unknown) => void,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.runOnce(), this.everyMs);
  }

  /** One tick now, unless one is running; resolves when it has finished. */
  async runOnce(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.tick();
    } catch (e) {
      this.onError(e);
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

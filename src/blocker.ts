// Sub-millisecond pickup on the highest-priority queues without polling (issues #5, #10), without ever
// taking a job anywhere but into a slot's worker:<id> state (issue #9). While some lane is idle with a free
// slot, each of the first --blocking-queues queues has a connection of its own that borrows one free slot and
// sends, in one write, `BLMOVE queue:<q> queue:<q> RIGHT RIGHT <t>` and then the pickup script for that slot.
// On a non-empty list that BLMOVE moves the last element to where it already is, so the queue is unchanged; on
// an empty one it blocks until a push. Redis runs the pickup the moment the wait ends: the job goes from its
// queue into the slot's state atomically, in the same hop, and starts as soon as the reply arrives.
// If this process freezes or dies meanwhile, nothing is lost: a job is in its queue or in a worker state,
// which the pickup writes only while this process is registered (so a reaped process takes nothing). The wait
// is bounded by blockMs (manager.ts): long, so renewals stay rare (each costs three commands), and short enough
// that a connection that died silently is replaced within about two --dead-after.
// A follower (manager.ts took) is the same wait on a queue past those, the one that had a job most recently:
// follow() moves it to another queue by replacing its connection, which ends the old wait at once.
import type { WorkerContext } from "./context";
import type { Lane, Slot } from "./lane";
import { sendPickup, type Pickup } from "./pickup";
import { isTransient, RedisConn } from "./redis";
import { NotReplicatedError } from "./replicas";
import { backoffMs, sleep } from "./retry";

/** Open while some lane is idle with a free slot; blockers and the poller wait on it. */
export class Gate {
  private waiters: (() => void)[] = [];
  private changes: (() => void)[] = [];
  private open = false;

  get isOpen(): boolean {
    return this.open;
  }

  set(open: boolean): void {
    this.open = open;
    const c = this.changes;
    this.changes = [];
    for (const f of c) f();
    if (open) this.release();
  }

  wait(): Promise<void> {
    if (this.open) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves at the next set(), open or not. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.changes.push(resolve));
  }

  release(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

export interface Loan {
  lane: Lane;
  slot: Slot;
}

/** What a blocker needs from the manager. */
export interface BlockerHost {
  /** A free slot of an idle lane, lent until the lane settles its pickup or takes it back (giveBack). */
  lend(): Loan | undefined;
  /** A job token no other pickup of this process has used (see SlotOp in scripts.ts). */
  nextToken(): string;
  /** The queue has more jobs than the pickup took (or a wait ended without a pickup): let lanes fetch. */
  onWork(queue: string): void;
  /** A failing stretch of waits on `queue` (the key is not a list, for instance), reported once. */
  onError(queue: string, e: unknown): void;
  /** A follower's wait ended without a job: whether it stops (its queue has been quiet too long). */
  retire(b: Blocker): boolean;
  /** Ends the blocking wait of the client with this CLIENT ID now (CLIENT UNBLOCK): its pickup runs at once. */
  unblock(clientId: number): Promise<void>;
}

/** Each connection's CLIENT ID, asked once per connection (pipelined before its first wait). */
const clientIds = new WeakMap<object, number>();

export class Blocker {
  private readonly conn: RedisConn;
  private stopped = false;
  private cancelled = false;
  private waiting = false;
  /** The slot the pending wait holds, and the CLIENT ID of the connection it waits on. */
  private loaned: Loan | undefined;
  private clientId: number | undefined;
  /** The pending wait was ended to give its slot back (reclaim): the slot's lane fetches. */
  private reclaimed = false;
  /** When its queue last had a job (a follower keeps its queue for a while after that). */
  lastJobAt = 0;

  constructor(
    private readonly ctx: WorkerContext,
    private current: string,
    private readonly gate: Gate,
    private readonly host: BlockerHost,
    private readonly blockMs: number,
    /** Follows the queues that had jobs (manager.ts) rather than one of the first --blocking-queues. */
    readonly follower = false,
  ) {
    this.conn = new RedisConn(ctx.config.target, ctx.config.commandTimeoutMs, follower ? "follower" : `blocker(${current})`);
    void this.loop();
  }

  get queue(): string {
    return this.current;
  }

  /** Wait on `queue` from now on: a pending wait on the old one ends at once (its connection is replaced). */
  follow(queue: string): void {
    this.current = queue;
    this.lastJobAt = Date.now();
    this.cancel();
  }

  private async loop(): Promise<void> {
    for (let attempt = 0; !this.stopped; ) {
      await this.gate.wait();
      if (this.stopped) break;
      // Without a slot to lend (low --concurrency), the wait only wakes a lane, one round trip slower.
      const loan = this.host.lend();
      let picked: Pickup | "woken" = null;
      try {
        this.waiting = true;
        this.loaned = loan;
        this.reclaimed = false;
        picked = await this.waitAndPick(loan?.slot);
        attempt = 0;
        this.ctx.outage.recovered();
      } catch (e) {
        if (loan) loan.lane.giveBack(loan.slot, true);
        this.waiting = false;
        this.loaned = undefined;
        if (this.stopped) break;
        await this.failed(e, attempt++);
        continue;
      }
      this.waiting = false;
      this.loaned = undefined;
      // A reclaimed slot that took nothing goes back to a lane that has more jobs waiting: it fetches now.
      if (loan && picked === null && this.reclaimed) loan.lane.giveBack(loan.slot, true);
      else if (loan && picked !== "woken") loan.lane.settle(loan.slot, picked);
      // A job the pickup could not take (paused, reaped) or did not take (no slot): a lane's fetch decides,
      // and closes the gate while paused, so this never spins on a non-empty queue.
      if (picked === "woken" || picked === "skip" || (typeof picked === "object" && picked?.more)) this.host.onWork(this.queue);
      else if (picked === null && this.follower && this.host.retire(this)) break;
    }
  }

  /** One write: the blocking wait, then (with a slot) the pickup, which Redis runs as soon as the wait ends. */
  private waitAndPick(slot: Slot | undefined): Promise<Pickup | "woken"> {
    const { config } = this.ctx;
    const queue = this.queue;
    const key = config.keys.queue(queue);
    const block = this.blockMs;
    return this.conn.run(async (c) => {
      // The gate is checked in the same tick as the wait is sent: a pause that closed it while we were
      // connecting must not start one more.
      if (!this.gate.isOpen) return null;
      this.clientId = clientIds.get(c);
      if (this.clientId === undefined && slot) {
        void c.send("CLIENT", ["ID"]).then((id) => {
          clientIds.set(c, Number(id));
          if (this.loaned?.slot === slot) this.clientId = Number(id);
        }, () => {});
      }
      const wait = c.send("BLMOVE", [key, key, "RIGHT", "RIGHT", (block / 1000).toFixed(3)]);
      if (!slot) return (await wait) === null ? null : "woken";
      const [, job] = await Promise.all([wait, sendPickup(this.ctx, c, slot, queue, this.host.nextToken())]);
      return job;
    }, "BLMOVE + pickup", block + config.commandTimeoutMs);
  }

  private async failed(e: unknown, attempt: number): Promise<void> {
    const { config } = this.ctx;
    // Cancelled (a pause, or a follower's new queue): the gate or the new queue decides what comes next.
    if (this.cancelled) return void (this.cancelled = false);
    if (isTransient(e)) this.ctx.outage.failed(e);
    // --min-replicas not reached: the lane that gets the slot back says so (its fetch waits the same way).
    else if (attempt === 0 && !(e instanceof NotReplicatedError)) this.host.onError(this.queue, e);
    // A wrong-type key will not heal soon: wait a whole interval before looking again.
    await sleep(isTransient(e) ? backoffMs(attempt, Math.random()) : config.intervalMs, this.ctx.hardStop);
  }

  /**
   * The lanes have more jobs than free slots (issue #14): a wait holding a lent slot gives it back now rather
   * than at the end of its wait (114 s by default). CLIENT UNBLOCK ends the BLMOVE as a timeout would, so the
   * pipelined pickup still runs (taking a job if its queue got one meanwhile) and the connection stays; where
   * CLIENT UNBLOCK is not allowed, the connection is replaced (cancel).
   */
  reclaim(): void {
    if (this.stopped || !this.waiting || !this.loaned || this.reclaimed) return;
    this.reclaimed = true;
    const id = this.clientId;
    if (id === undefined) return this.cancel();
    this.host.unblock(id).catch(() => this.cancel());
  }

  /** End a pending wait now (pause). */
  cancel(): void {
    if (this.stopped || !this.waiting) return;
    this.cancelled = true;
    this.conn.drop();
  }

  /** Closing the socket ends a pending BLMOVE at once. */
  stop(): void {
    this.stopped = true;
    this.conn.close();
    this.gate.release();
  }
}

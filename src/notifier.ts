// Sub-millisecond pickup on every queue, however many, when the Redis server publishes keyspace events for
// lists (issue #10): one subscriber connection listens to the keyevent channels of pushes
// (`__keyevent@<db>__:lpush|rpush|linsert`, whose message is the key) and wakes a lane for a queue we serve.
// 1. used only when the server's notify-keyspace-events has E (keyevent) and l or A (lists), unless
//    --keyspace-notifications=enable, which adds "El" to the server's setting (the only time bunworker ever
//    changes the server's configuration), or =off;
// 2. a notification lost while (re)connecting is covered by one poll after every subscribe, and by the
//    poller's EXISTS every --interval;
// 3. nothing here touches a job: the woken lane takes it with its own atomic script call.
import type { WorkerContext } from "./context";
import { RedisConn } from "./redis";
import { backoffMs, sleep } from "./retry";
import type { RedisTarget } from "./uri";

export type NotifyMode = "auto" | "enable" | "off";

const PUSH_EVENTS = ["lpush", "rpush", "linsert"];

/** notify-keyspace-events flags that publish keyevent messages for list commands. */
export function hasListEvents(flags: string): boolean {
  return flags.includes("E") && (flags.includes("l") || flags.includes("A"));
}

/** The database a target selects: the URI's /N path, or a unix socket's ?db=N. */
export function databaseOf(target: RedisTarget): number {
  if (target.db) return target.db;
  try {
    return Number(/^\/(\d+)/.exec(new URL(target.url).pathname)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

export interface NotifyTarget {
  /** A push to `queue` (any queue name; the target decides whether it serves it). */
  pushed(queue: string): void;
  /** Subscribed (again): anything pushed before is covered by one look at every queue. */
  subscribed(): void;
}

// Bun's client may not report a dropped subscriber connection (bun-redis-client.md): look every second.
const LIVENESS_CHECK_MS = 1000;

export class Notifier {
  private conn: RedisConn | null = null;
  private stopped = false;

  constructor(
    private readonly ctx: WorkerContext,
    /** For CONFIG GET/SET: a command connection the caller owns. */
    private readonly commands: RedisConn,
    private readonly target: NotifyTarget,
  ) {}

  /** Resolves to whether notifications are in use; never rejects (without them, pickup falls back to polling). */
  async start(mode: NotifyMode): Promise<boolean> {
    if (mode === "off") return false;
    const { log } = this.ctx.config;
    try {
      const reply = (await this.commands.run((c) => c.send("CONFIG", ["GET", "notify-keyspace-events"]), "CONFIG GET")) as string[] | Record<string, string>;
      let flags = Array.isArray(reply) ? String(reply[1] ?? "") : String(reply["notify-keyspace-events"] ?? "");
      if (!hasListEvents(flags) && mode === "enable") {
        flags = `${flags.replace(/[EA]/g, "")}El${flags.includes("A") ? "A" : ""}`;
        await this.commands.run((c) => c.send("CONFIG", ["SET", "notify-keyspace-events", flags]), "CONFIG SET");
        log.info(`--keyspace-notifications=enable: set the server's notify-keyspace-events to "${flags}"`);
      }
      if (!hasListEvents(flags)) return false;
    } catch (e) {
      log.info(`keyspace notifications not used (${(e as Error).message}); queues beyond the blocking ones are polled every interval`);
      return false;
    }
    void this.loop();
    return true;
  }

  private async loop(): Promise<void> {
    const { config } = this.ctx;
    const db = databaseOf(config.target);
    const prefix = config.keys.queuePrefix;
    const onMessage = (key: string) => {
      if (key.startsWith(prefix)) this.target.pushed(key.slice(prefix.length));
    };
    for (let attempt = 0; !this.stopped && !this.ctx.hardStop.aborted; attempt++) {
      // A connection of its own: a subscribed client can run no other command (bun-redis-client.md).
      const conn = new RedisConn(config.target, config.commandTimeoutMs, "notifier");
      this.conn = conn;
      try {
        const client = await conn.ready();
        if (this.stopped) break;
        for (const event of PUSH_EVENTS) await client.subscribe(`__keyevent@${db}__:${event}`, onMessage);
        attempt = 0;
        this.target.subscribed();
        while (!this.stopped && !this.ctx.hardStop.aborted && client.connected) await sleep(LIVENESS_CHECK_MS, this.ctx.hardStop);
      } catch (e) {
        if (this.stopped) break;
        // An ACL user without SUBSCRIBE (issue #14): permanent, so one line and the poll, not an outage loop.
        if (/^NOPERM\b/.test((e as Error).message)) {
          config.log.info("keyspace notifications not permitted for this user: polling instead");
          break;
        }
        this.ctx.outage.failed(e);
      } finally {
        conn.close();
      }
      await sleep(backoffMs(attempt, Math.random()), this.ctx.hardStop);
    }
  }

  stop(): void {
    this.stopped = true;
    this.conn?.close();
  }
}

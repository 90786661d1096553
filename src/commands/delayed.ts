// `bunworker delayed list|remove|enqueue-now`: what an operator needs for delayed jobs (issue #17 point 5).
// A citty command of its own, so that the CLI can mount it as a subcommand (`subCommands: { delayed }`).
// - list: every second in delayed_queue_schedule, oldest first, with its jobs (the stored bytes).
// - remove: Ruby's remove_delayed for one job (class, queue, args), by its bytes.
// - enqueue-now <ts>: makes that second due now; whichever process holds resque-scheduler's master lock (a
//   bunworker or a Ruby scheduler) moves it at its next look. Moving it from here instead could race a Ruby
//   scheduler's non-atomic batch (reference 2.3), which only the lock holder may run.
import { defineCommand } from "citty";
import { RedisClient } from "bun";
import { delayedItem, removeDelayedWith } from "../delayed";
import { enqueueJobNow, enqueueSecondNow, removeJobAt } from "../delayed-admin";
import { makeKeys, type Keys } from "../keys";
import { defaultUri } from "../settings";

const common = {
  uri: { type: "string", description: "redis://host:port/db (default $REDIS_URL or redis://localhost:6379/)", valueHint: "uri" },
  namespace: { type: "string", description: "key prefix, colon included (default resque:)", valueHint: "ns" },
} as const;

async function withRedis<T>(args: { uri?: string; namespace?: string }, f: (c: RedisClient, keys: Keys) => Promise<T>): Promise<T> {
  const c = new RedisClient(args.uri ?? defaultUri(process.env), { autoReconnect: false, connectionTimeout: 5000 });
  try {
    return await f(c, makeKeys(args.namespace ?? "resque:"));
  } finally {
    c.close();
  }
}

const pairs = (reply: unknown): [string, number][] => {
  const flat = (Array.isArray(reply) ? reply : []).flat() as unknown[];
  const out: [string, number][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([String(flat[i]), Number(flat[i + 1])]);
  return out;
};

export async function listDelayed(c: RedisClient, keys: Keys, limit: number): Promise<string[]> {
  const lines: string[] = [];
  for (const [member, score] of pairs(await c.send("ZRANGE", [keys.delayedSchedule, "0", "-1", "WITHSCORES"]))) {
    const bucket = keys.delayed(member);
    const type = (await c.send("TYPE", [bucket])) as string;
    const when = Number.isFinite(score) ? new Date(score * 1000).toISOString().replace(".000", "") : String(score);
    if (type !== "list") {
      lines.push(`${when}  ${member}  (${type === "none" ? "no bucket" : `${bucket} is a ${type}, not a list`})`);
      continue;
    }
    const n = Number(await c.llen(bucket));
    lines.push(`${when}  ${member}  ${n} job(s)${score !== Number(member) ? "  (due now)" : ""}`);
    for (const item of (await c.lrange(bucket, 0, limit - 1)) as string[]) lines.push(`    ${item}`);
    if (n > limit) lines.push(`    ... ${n - limit} more`);
  }
  return lines;
}

function argsList(json: string | undefined): unknown[] {
  let list: unknown;
  try {
    list = JSON.parse(json ?? "[]");
  } catch {
    throw new Error(`--args must be a JSON array, got ${json}`);
  }
  if (!Array.isArray(list)) throw new Error(`--args must be a JSON array, got ${json}`);
  return list;
}

const fail = (e: unknown): never => {
  process.stderr.write(`bunworker delayed: ${(e as Error).message}\n`);
  process.exit(1);
};

export const delayedCommand = defineCommand({
  meta: { name: "delayed", description: "list, remove or enqueue now the delayed jobs (resque-scheduler's keys)" },
  subCommands: {
    list: defineCommand({
      meta: { name: "list", description: "every scheduled second, oldest first, with its jobs" },
      args: { ...common, limit: { type: "string", description: "jobs shown per second (default 20)", valueHint: "n" } },
      run: ({ args }) =>
        withRedis(args, async (c, keys) => {
          const lines = await listDelayed(c, keys, Math.max(0, Number(args.limit ?? 20)) || 20);
          process.stdout.write(lines.length ? `${lines.join("\n")}\n` : "no delayed jobs\n");
        }).catch(fail),
    }),
    remove: defineCommand({
      meta: { name: "remove", description: "remove every delayed copy of one job (Ruby's remove_delayed), or with --at only those at that second; prints how many" },
      args: {
        ...common,
        class: { type: "string", description: "job class", required: true, valueHint: "Class" },
        queue: { type: "string", description: "its queue", required: true, valueHint: "q" },
        args: { type: "string", description: "its args as a JSON array (default [])", valueHint: "json" },
        at: { type: "string", description: "only at this second (resque-web's Cancel)", valueHint: "second" },
      },
      run: ({ args }) =>
        withRedis(args, async (c, keys) => {
          const job = { queue: args.queue, payload: { class: args.class, args: argsList(args.args) } };
          const n = args.at === undefined ? await removeDelayedWith(c, keys, job) : await removeJobAt(c, keys, args.at, delayedItem(job));
          process.stdout.write(`removed ${n}\n`);
        }).catch(fail),
    }),
    "enqueue-now": defineCommand({
      meta: { name: "enqueue-now", description: "make one scheduled second due now: the lock holder moves its jobs at its next look" },
      args: {
        ...common,
        second: { type: "positional", description: "the second, as `delayed list` shows it", required: true },
        class: { type: "string", description: "only this job of that second: its class", valueHint: "Class" },
        queue: { type: "string", description: "with --class: its queue", valueHint: "q" },
        args: { type: "string", description: "with --class: its args as a JSON array (default [])", valueHint: "json" },
      },
      run: ({ args }) =>
        withRedis(args, async (c, keys) => {
          if (args.class !== undefined) {
            if (!args.queue) throw new Error("enqueue-now: --class needs --queue");
            const moved = await enqueueJobNow(c, keys, String(args.second), delayedItem({ queue: args.queue, payload: { class: args.class, args: argsList(args.args) } }));
            if (!moved) throw new Error(`enqueue-now: no such job at second ${args.second}`);
            process.stdout.write("the job is due now: the process holding resque-scheduler's master lock moves it within its --interval\n");
            return;
          }
          const n = await enqueueSecondNow(c, keys, String(args.second));
          process.stdout.write(`second ${args.second} (${n} job(s)) is due now: the process holding resque-scheduler's master lock moves it within its --interval\n`);
        }).catch(fail),
    }),
  },
});

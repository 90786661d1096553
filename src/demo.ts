// `bun run demo`: the whole thing in one command for a newcomer (issue #2).
// 1. Use the Redis at $REDIS_URL (default 127.0.0.1:6379) or, when none answers, a private redis-server on a
//    free port that is removed afterwards;
// 2. enqueue sample jobs for the jobs in jobs/, the way Resque.enqueue and redis-cli would, plus one broken item;
// 3. run the worker until the queue is empty; 4. print what ran and what failed, as Resque's tools see it.
import { RedisClient } from "bun";
import { close, delayedCount, enqueue, enqueueIn, register, setSettings, work, type JobContext } from "./index";
import { loadJobs } from "./job-loader";
import { startPrivateRedis } from "./private-redis";

const NS = "bunworker-demo:";
const QUEUE = "demo";

async function answers(url: string): Promise<boolean> {
  const c = new RedisClient(url, { autoReconnect: false, connectionTimeout: 500 });
  try {
    return (await c.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    c.close();
  }
}

async function privateRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = await startPrivateRedis();
  console.log(`no Redis at ${process.env.REDIS_URL ?? "redis://127.0.0.1:6379"}: started a private redis-server on port ${server.port}`);
  return server;
}

/**
 * A delayed job (resque-scheduler's keys): due in 2 s; the worker's promoter moves it into its queue when due,
 * and the worker runs it. The worker runs until the job has run, then gets TERM like any worker.
 */
async function delayedDemo(c: RedisClient, settings: Parameters<typeof work>[0]): Promise<void> {
  const processed = async () => Number(await c.get(`${NS}stat:processed`));
  const before = await processed();
  const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000);
  await enqueueIn((at.getTime() - Date.now()) / 1000, { queue: QUEUE, payload: { class: "Greet", args: [`Dora, delayed until ${at.toISOString()}`] } });
  console.log(`\nenqueued a delayed Greet due at ${at.toISOString()} (${await delayedCount()} in ${NS}delayed_queue_schedule); starting a worker, whose promoter moves it into "${QUEUE}" when due...`);
  const watch = setInterval(() => {
    void processed().then((n) => {
      if (n <= before) return;
      clearInterval(watch);
      console.log(`the delayed job ran ${Date.now() - at.getTime()} ms after its due time`);
      process.kill(process.pid, "SIGTERM");
    });
  }, 50);
  await work({ ...settings, exitOnComplete: false });
}

/**
 * A retried job (resque-retry's keys): FetchRates fails its first two attempts and succeeds on the third; each
 * failure becomes a delayed retry 1 s later, which the worker's promoter moves back into the queue.
 */
async function retryDemo(c: RedisClient, settings: Parameters<typeof work>[0]): Promise<void> {
  let done = false;
  register("FetchRates", async function (this: JobContext, _q: string, currency: string) {
    const counter = await c.get(`${NS}resque-retry:FetchRates:${new Bun.CryptoHasher("sha1").update(currency).digest("hex")}`);
    if (this.attempt < 3) {
      console.log(`  FetchRates(${currency}) attempt ${this.attempt}: the rates service timed out (resque-retry counter: ${counter ?? "none"}); retried in 1 s`);
      throw new Error("rates service timed out");
    }
    console.log(`  FetchRates(${currency}) attempt ${this.attempt}: fetched (counter ${counter} is deleted with this ack)`);
    done = true;
  }, { retry: { limit: 3, delays: [1] } });
  await enqueue({ queue: QUEUE, payload: { class: "FetchRates", args: ["EUR"] } });
  console.log(`
enqueued FetchRates("EUR"), registered with retry: { limit: 3, delays: [1] }; it fails twice, then succeeds:`);
  const watch = setInterval(() => {
    if (!done) return;
    clearInterval(watch);
    setTimeout(() => process.kill(process.pid, "SIGTERM"), 100);
  }, 50);
  await work({ ...settings, exitOnComplete: false });
  console.log("its two failed attempts count in stat:failed; only a last failure (retries exhausted) reaches the failed list");
}

async function main(): Promise<void> {
  const wanted = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const server = (await answers(wanted)) ? { url: wanted, stop: async () => {} } : await privateRedis();
  const c = new RedisClient(server.url);
  try {
    for (const key of await c.keys(`${NS}*`)) await c.del(key);
    await loadJobs(new URL("../jobs", import.meta.url).pathname);
    const settings = { uri: server.url, namespace: NS, queues: [QUEUE], exitOnComplete: true, concurrency: 5, logLevel: "warn" as const };
    setSettings(settings);
    for (const name of ["Ada", "Grace", "Linus"]) await enqueue({ queue: QUEUE, payload: { class: "Greet", args: [name] } });
    await enqueue({ queue: QUEUE, payload: { class: "WordCount", args: ["the quick brown fox"] } });
    await enqueue({ queue: QUEUE, payload: { class: "ChargeCard", args: [1999] } });
    await enqueue({ queue: QUEUE, payload: { class: "ChargeCard", args: [250000] } });
    await enqueue({ queue: QUEUE, payload: { class: "NoSuchJob", args: [] } });
    await c.rpush(`${NS}queue:${QUEUE}`, "this is not json");
    console.log(`enqueued 8 jobs on queue "${QUEUE}" (namespace ${NS}); running the worker until the queue is empty...\n`);
    await work(settings);
    await delayedDemo(c, settings);
    await retryDemo(c, settings);
    const failed = ((await c.lrange(`${NS}failed`, 0, -1)) as string[]).map((e) => JSON.parse(e) as { payload: unknown; exception: string; error: string });
    console.log(`\nprocessed: ${await c.get(`${NS}stat:processed`)}   failed: ${await c.get(`${NS}stat:failed`)}   (Resque's stat:processed counts failures too)`);
    console.log(`word counts stored by WordCount: ${JSON.stringify(await c.hgetall(`${NS}demo:word-counts`))}`);
    console.log(`failed list (${NS}failed), as resque-web shows it:`);
    for (const f of failed) console.log(`  - ${f.exception}: ${f.error}\n      payload: ${JSON.stringify(f.payload)}`);
  } finally {
    c.close();
    await close();
    await server.stop();
  }
}

await main();
process.exit(0);

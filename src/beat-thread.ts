// The beat thread (issue #14): a Bun Worker thread with its own Redis connection, so a job that blocks the main
// thread's event loop (a synchronous loop: an image resize, JSON crunching) cannot stop this process's beats.
// 1. The main thread writes "I am alive" (its tick) into shared memory every few hundred ms (pulse.ts). When the
//    tick is late by half a heartbeat, this thread sends the beats itself (beat-2.lua): the process's beat, which
//    workers on other hosts judge it by, and its slots' Resque heartbeats, which Ruby's prune judges them by.
// 2. With --job-timeout, the main thread also writes which slot's job is in its synchronous call and since when.
//    A job that keeps the loop blocked past --job-timeout is failed (fail-running-6.lua, so its restart does not
//    run it again), named in one line on stderr, and the process is ended (SIGKILL: the only way out of a loop
//    that never yields); the restart, or any other worker, recovers its other jobs as a dead process's.
// A stopped process (SIGSTOP) stops this thread too: a frozen worker still stops beating, and is reaped.
// This function runs in the thread from its source text (pulse.ts), so it must use nothing but globals.

/** What the main thread sends once. */
export interface BeatThreadInit {
  url: string;
  tls: boolean | { ca?: string; rejectUnauthorized: boolean };
  username: string;
  password: string;
  db: number;
  connectTimeoutMs: number;
  /** [main tick epoch ms, sync job start epoch ms (0: none), its slot number, then each slot's job start (0: none)] */
  shared: SharedArrayBuffer;
  heartbeatMs: number;
  jobTimeoutMs: number;
  proc: string;
  ids: string[];
  /** "<identity>|<valid ms>", as the main thread's beats carry it. */
  identity: string;
  beat: { source: string; keys: string[] };
  fail: { source: string; failed: string; processed: string; failedCount: string; workerPrefix: string; processedPrefix: string; failedPrefix: string };
}

/**
 * Where each value lives in `shared` (the thread's copy of these numbers is written out inside beatThread); with
 * --job-timeout, SHARED_RUNNING + slot holds when that slot's running job started (0: none).
 */
export const SHARED_TICK = 0;
export const SHARED_JOB_SINCE = 1;
export const SHARED_JOB_SLOT = 2;
export const SHARED_RUNNING = 3;

export function beatThread(): void {
  type Client = { send(cmd: string, args: string[]): Promise<unknown>; connect(): Promise<void>; close(): void; connected: boolean };
  const scope = globalThis as unknown as { onmessage: ((e: { data: BeatThreadInit }) => void) | null };
  const pad = (n: number) => String(Math.abs(n)).padStart(2, "0");
  // Resque's heartbeat format (resque-time.ts heartbeatAt), which Ruby's Time.parse reads.
  const heartbeatAt = (d: Date) => {
    const m = -d.getTimezoneOffset();
    const off = `${m < 0 ? "-" : "+"}${pad(Math.trunc(Math.abs(m) / 60))}:${pad(Math.abs(m) % 60)}`;
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${off}`;
  };
  const failedAt = (d: Date) => {
    const iso = d.toISOString();
    return `${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)} ${iso.slice(11, 19)} UTC`;
  };
  const within = <T,>(p: Promise<T>, ms: number): Promise<T> =>
    Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error("timeout")), ms))]);

  let init: BeatThreadInit;
  let client: Client | null = null;
  scope.onmessage = (e) => {
    // Later messages carry a new address (a Sentinel primary): the next beat connects there.
    if (init) {
      init.url = (e.data as { url: string }).url;
      client?.close();
      client = null;
      return;
    }
    init = e.data;
    const shared = new Float64Array(init.shared);
    const TICK = 0, JOB_SINCE = 1, JOB_SLOT = 2, RUNNING = 3;
    const connect = async (): Promise<Client> => {
      if (client?.connected) return client;
      if (!init.url) throw new Error("no address yet");
      client?.close();
      const RedisClient = (globalThis as unknown as { Bun: { RedisClient: new (url: string, o: object) => Client } }).Bun.RedisClient;
      const c = new RedisClient(init.url, { tls: init.tls, connectionTimeout: init.connectTimeoutMs, autoReconnect: false });
      client = c;
      await within(c.connect(), init.connectTimeoutMs);
      if (init.password) await c.send("AUTH", init.username ? [init.username, init.password] : [init.password]);
      if (init.db) await c.send("SELECT", [String(init.db)]);
      return c;
    };
    const evalScript = async (source: string, keys: string[], args: string[]) => {
      const c = await connect();
      return within(c.send("EVAL", [source, String(keys.length), ...keys, ...args]), init.connectTimeoutMs);
    };
    let lastBeat = Date.now();
    let busy = false;
    let ending = false;
    const end = async (slot: number, blockedMs: number) => {
      const id = init.ids[slot] ?? "";
      const f = init.fail;
      const secs = `${(blockedMs / 1000).toFixed(1)} s, past --job-timeout ${init.jobTimeoutMs / 1000} s`;
      let named = `the job in worker ${id}`;
      try {
        const r = (await evalScript(f.source, [f.workerPrefix + id, f.failed, f.processed, f.failedCount, f.processedPrefix + id, f.failedPrefix + id],
          [id, failedAt(new Date()), '"JobTimeoutError"', `job %s blocked the event loop for longer than --job-timeout ${init.jobTimeoutMs / 1000} s; the worker process was ended`])) as string[];
        if (r.length === 2) named = `job ${r[1]} from queue ${r[0]} (worker ${id}; recorded as failed)`;
      } catch {
        // Redis unreachable: the job stays in its state and is handed back with the others.
      }
      process.stderr.write(`bunworker: ${named} has blocked the event loop for ${secs}: ending the worker process (its other jobs are recovered at restart)\n`);
      process.kill(process.pid, "SIGKILL");
    };
    const look = () => {
      if (busy || ending) return;
      const now = Date.now();
      const since = shared[JOB_SINCE] ?? 0;
      const blocked = now - (shared[TICK] ?? now);
      if (init.jobTimeoutMs > 0 && since > 0 && now - since > init.jobTimeoutMs) {
        ending = true;
        void end(shared[JOB_SLOT] ?? -1, now - since);
        return;
      }
      // Blocked past --job-timeout by code after a job's first call: the job, if only one runs; otherwise which
      // one cannot be told from here, and the process ends all the same (a loop that never yields would hold
      // every slot forever), without a failure record.
      if (init.jobTimeoutMs > 0 && since === 0 && blocked > init.jobTimeoutMs + 1000) {
        ending = true;
        const running: number[] = [];
        for (let i = 0; i < init.ids.length; i++) if ((shared[RUNNING + i] ?? 0) > 0) running.push(i);
        if (running.length === 1) {
          void end(running[0] as number, blocked);
          return;
        }
        process.stderr.write(`bunworker: the event loop has been blocked for ${(blocked / 1000).toFixed(1)} s, past --job-timeout ${init.jobTimeoutMs / 1000} s, by job code after its first call (a callback, or synchronous code after an await; which job cannot be told): ending the worker process (its jobs are recovered at restart)\n`);
        process.kill(process.pid, "SIGKILL");
        return;
      }
      if (blocked < init.heartbeatMs / 2 || now - lastBeat < init.heartbeatMs) return;
      lastBeat = now;
      busy = true;
      evalScript(init.beat.source, init.beat.keys, [init.proc, init.identity, heartbeatAt(new Date()), ...init.ids])
        .catch(() => client?.close())
        .finally(() => (busy = false));
    };
    setInterval(look, Math.max(20, Math.min(250, init.heartbeatMs / 4, init.jobTimeoutMs > 0 ? init.jobTimeoutMs / 10 : 250)));
  };
}

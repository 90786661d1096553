// Before the first job (issue #9): the shared keys every worker writes must be usable, or jobs would run and
// then fail to be recorded, again and again. A key of the wrong type, or a counter that is not an integer,
// stops the start with BadKeyError naming it; nothing has been fetched, so nothing runs twice.
import type { Keys } from "./keys";
import type { RedisConn } from "./redis";
import { BadKeyError } from "./scripts";

const INTEGER = /^(0|-?[1-9]\d{0,17})$/;

export async function preflight(conn: RedisConn, keys: Keys): Promise<void> {
  // The registration keys (workers, workers:heartbeat, ...) are checked by the first heartbeat, which also
  // comes before the first job; these are the ones only an acknowledgement would find broken.
  const want: [string, string][] = [[keys.processed, "string"], [keys.failedCount, "string"], [keys.failed, "list"], [keys.queues, "set"]];
  // One pipeline for every check (issue #15): MGET answers nil for a key of another type, so the types are
  // judged first and the counters' values only after.
  const [types, counters] = (await conn.run(
    (c) => Promise.all([Promise.all(want.map(([k]) => c.send("TYPE", [k]))), c.send("MGET", [keys.processed, keys.failedCount])]),
    "TYPE/MGET",
  )) as [string[], (string | null)[]];
  want.forEach(([key, type], i) => {
    if (types[i] !== type && types[i] !== "none") throw new BadKeyError(key, `is a ${types[i]}, not a ${type}`);
  });
  [keys.processed, keys.failedCount].forEach((key, i) => {
    const v = counters[i];
    if (v !== null && v !== undefined && !INTEGER.test(v)) throw new BadKeyError(key, `holds ${JSON.stringify(v.slice(0, 40))}, not an integer`);
  });
}

// A worker program for the failover tests: its "Count" job does what test/fixtures/test-worker.ts's does
// (HINCRBY <ns>test:runs <id> 1 through redis(), retried through outages), and first appends "<id>\n" to the
// file $LEDGER_FILE. A failover loses whatever the old primary took after the replica was promoted, test:runs
// counts included, so the new primary alone undercounts the runs; the file, outside Redis, counts every one.
import { appendFileSync } from "node:fs";
import { namespace, redis, register } from "../../src/index";
import { workThenExit } from "./work-then-exit";

const ledger = process.env.LEDGER_FILE;
if (!ledger) throw new Error("LEDGER_FILE must name the file that records each run");

register("Count", async (_q: string, id: string, ms: number) => {
  appendFileSync(ledger, `${id}\n`);
  await Bun.sleep(ms);
  for (let attempt = 0; ; attempt++) {
    try {
      await redis().hincrby(`${namespace()}test:runs`, id, 1);
      return;
    } catch (e) {
      if (attempt > 100) throw e;
      await Bun.sleep(100);
    }
  }
});

await workThenExit();

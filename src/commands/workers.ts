// `bunworker workers`: every registered worker of the fleet (Ruby, goworker, bunworker), with its state, job,
// since when, heartbeat age and whether it is dead (heartbeat older than --dead-after).
import { defineCommand } from "citty";
import { workerRows, type WorkerRow } from "../resque-data";
import { age, renderTable } from "../table";
import { connect, count, helpArg, jsonArg, print, printJson, redisArgs, wantsJson } from "./common";

/** Seconds since a time string as Resque, goworker or bunworker wrote it, or null. */
function since(text: string | null | undefined, nowMs: number): number | null {
  if (!text) return null;
  // Go's time.String() ends in " m=+0.001" and a zone name after the offset: Date.parse reads what is before.
  const ms = Date.parse(text.replace(/ m=[+-][\d.]+$/, "").replace(/ ([+-]\d{4}) [A-Z]+$/, " $1"));
  return Number.isNaN(ms) ? null : Math.max(0, Math.round((nowMs - ms) / 1000));
}

export function sinceOf(w: WorkerRow, nowMs: number): number | null {
  return since(w.job ? w.job.runAt : w.started, nowMs);
}

export const workersCommand = defineCommand({
  meta: { name: "workers", description: "Every registered worker: id, host, state, current job, since (job start when working, else worker start), heartbeat age, and dead when the heartbeat is older than --dead-after." },
  args: {
    "dead-after": { type: "string", description: "seconds without a heartbeat before a worker is shown dead (default 300, Resque's prune interval)", valueHint: "s" },
    ...redisArgs,
    ...jsonArg,
    ...helpArg,
  },
  async run({ args }) {
    const deadAfter = count("--dead-after", args["dead-after"], 300);
    const s = await connect(args);
    try {
      const rows = await workerRows(s.client, s.keys, deadAfter);
      const now = Date.now();
      if (wantsJson(args)) return printJson(rows.map((w) => ({ ...w, since: sinceOf(w, now) })));
      if (!rows.length) return print("no workers");
      print(
        renderTable(
          [{ title: "WORKER", min: 16 }, { title: "HOST" }, { title: "STATE" }, { title: "JOB", min: 10 }, { title: "SINCE", right: true }, { title: "BEAT", right: true }, { title: "ALIVE" }],
          rows.map((w) => [w.id, w.host, w.state, w.job ? `${w.job.class} (${w.job.queue})` : "", age(sinceOf(w, now)), age(w.heartbeatAge), w.dead ? "DEAD" : w.heartbeatAge === null ? "?" : "yes"]),
        ),
      );
    } finally {
      s.close();
    }
  },
});

// `bunworker queues`: every queue of the queues set with its size and its oldest item's age (when the payload
// carries an enqueue time: resque-data.ts enqueuedAtMs; Resque's own payloads do not, shown as "-").
import { defineCommand } from "citty";
import { SettingsError } from "../errors";
import { queueRows } from "../resque-data";
import { age, renderTable } from "../table";
import { connect, helpArg, jsonArg, print, printJson, progress, redisArgs, wantsJson } from "./common";

export const queuesCommand = defineCommand({
  meta: { name: "queues", description: "Every queue in <ns>queues: name, size, and the age of its oldest item when the payload says when it was enqueued (ActiveJob's enqueued_at, or a top-level enqueued_at); \"-\" otherwise." },
  args: {
    sort: { type: "string", description: "name (default) or size (largest first)", valueHint: "name|size" },
    ...redisArgs,
    ...jsonArg,
    ...helpArg,
  },
  async run({ args }) {
    const sort = args.sort ?? "name";
    if (sort !== "name" && sort !== "size") throw new SettingsError(`--sort must be name or size, got "${sort}"`);
    const s = await connect(args);
    const bar = progress("reading queues");
    try {
      const rows = await queueRows(s.client, s.keys, bar.update);
      bar.done();
      if (sort === "size") rows.sort((a, b) => b.size - a.size || a.name.localeCompare(b.name));
      if (wantsJson(args)) return printJson(rows);
      if (!rows.length) return print("no queues");
      print(renderTable([{ title: "QUEUE", min: 12 }, { title: "SIZE", right: true }, { title: "OLDEST", right: true }], rows.map((r) => [r.name, String(r.size), age(r.oldestAge)])));
    } finally {
      bar.done();
      s.close();
    }
  },
});

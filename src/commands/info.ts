// `bunworker info`: what Resque.info reports (reference section 5), for the whole fleet.
import { defineCommand } from "citty";
import { resqueInfo } from "../resque-data";
import { renderPairs } from "../table";
import { connect, helpArg, jsonArg, print, printJson, redisArgs, wantsJson } from "./common";

export const infoCommand = defineCommand({
  meta: { name: "info", description: "What Resque.info reports: pending jobs, processed, queues, workers, working, failed, server, environment." },
  args: { ...redisArgs, ...jsonArg, ...helpArg },
  async run({ args }) {
    const s = await connect(args);
    try {
      const info = await resqueInfo(s.client, s.keys, s.display);
      if (wantsJson(args)) return printJson(info);
      print(renderPairs(Object.entries(info).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : String(v)])));
    } finally {
      s.close();
    }
  },
});

// `bunworker enqueue QUEUE CLASS [ARGS_JSON]`: what Resque.enqueue_to writes (SADD queues + RPUSH), with the
// args' bytes kept (big integers stay exact) and made compact as Ruby's JSON.generate writes them.
import { defineCommand } from "citty";
import { SettingsError } from "../errors";
import { compactJson } from "../raw-json";
import { hardWrap, printable, WIDTH } from "../table";
import { connect, helpArg, jsonArg, print, printJson, redisArgs, wantsJson } from "./common";

export function enqueuePayload(cls: string, argsJson: string | undefined): string {
  if (!cls) throw new SettingsError("CLASS must not be empty");
  let args = "[]";
  if (argsJson !== undefined) {
    try {
      args = compactJson(argsJson);
    } catch (e) {
      throw new SettingsError(`ARGS_JSON is not JSON: ${(e as Error).message}`);
    }
    if (!args.startsWith("[")) throw new SettingsError(`ARGS_JSON must be a JSON array, got ${args.slice(0, 40)}`);
  }
  return `{"class":${JSON.stringify(cls)},"args":${args}}`;
}

export const enqueueCommand = defineCommand({
  meta: { name: "enqueue", description: "Push one job as Resque.enqueue_to does: SADD <ns>queues QUEUE, RPUSH <ns>queue:QUEUE {\"class\":CLASS,\"args\":ARGS_JSON}." },
  args: {
    queue: { type: "positional", description: "queue name" },
    class: { type: "positional", description: "job class" },
    args: { type: "positional", description: "the job's arguments as a JSON array (default [])", required: false },
    ...redisArgs,
    ...jsonArg,
    ...helpArg,
  },
  async run({ args }) {
    if (!args.queue) throw new SettingsError("QUEUE must not be empty");
    const payload = enqueuePayload(args.class ?? "", args.args);
    const s = await connect(args);
    try {
      await Promise.all([s.client.send("SADD", [s.keys.queues, args.queue]), s.client.send("RPUSH", [s.keys.queue(args.queue), payload])]);
      if (wantsJson(args)) return print(`{"queue":${JSON.stringify(args.queue)},"payload":${payload}}`);
      print([`enqueued to ${printable(args.queue)}:`, ...hardWrap(printable(payload), WIDTH - 2, 0).map((l) => `  ${l}`)].join("\n"));
    } finally {
      s.close();
    }
  },
});

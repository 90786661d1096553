// `bunworker failed list|show|requeue|remove|clear`: Resque's failed list (reference section 4). requeue and
// remove do what Resque::Failure.requeue / remove do (retried_at set in place and the job pushed; LSET "" +
// LREM), and --all does it for every entry matching the filters, safely while others append and remove.
import { defineCommand } from "citty";
import { SettingsError } from "../errors";
import { bulkFailed, clearFailed, failedAtIndex, failedPage, hasFilter, removeEntries, requeueEntries, type BulkResult, type FailedEntry, type FailedFilter } from "../failed-store";
import { hardWrap, printable, renderPairs, renderTable, WIDTH } from "../table";
import { connect, count, helpArg, jsonArg, print, printJson, progress, redisArgs, wantsJson, type Flags, type Session } from "./common";

const filterArgs = {
  queue: { type: "string", description: "only entries of this queue", valueHint: "q" },
  class: { type: "string", description: "only entries of this job class", valueHint: "name" },
  exception: { type: "string", description: "only entries with this exception class", valueHint: "name" },
} as const;

function filterOf(args: Flags): FailedFilter {
  const f: FailedFilter = {};
  for (const k of ["queue", "class", "exception"] as const) if (typeof args[k] === "string") f[k] = args[k] as string;
  return f;
}

async function withSession<T>(args: Flags, f: (s: Session) => Promise<T>): Promise<T> {
  const s = await connect(args);
  try {
    return await f(s);
  } finally {
    s.close();
  }
}

const summary = (e: FailedEntry) => ({ index: e.index, failed_at: e.failedAt, queue: e.queue, class: e.class, args: e.args, exception: e.exception, error: e.error, worker: e.worker, retried_at: e.retriedAt });

const list = defineCommand({
  meta: { name: "list", description: "Failed jobs, newest first, with their index (for show, requeue and remove)." },
  args: {
    ...filterArgs,
    offset: { type: "string", description: "skip this many (matching) entries (default 0)", valueHint: "n" },
    limit: { type: "string", description: "show at most this many (default 20)", valueHint: "n" },
    ...redisArgs,
    ...jsonArg,
    ...helpArg,
  },
  run: ({ args }) =>
    withSession(args, async (s) => {
      const page = await failedPage(s.client, s.keys, filterOf(args), count("--offset", args.offset, 0), count("--limit", args.limit, 20));
      if (wantsJson(args)) return printJson({ total: page.total, matching: page.matching, entries: page.entries.map(summary) });
      const head = `${page.matching} of ${page.total} failed jobs${hasFilter(filterOf(args)) ? " match" : ""}`;
      if (!page.entries.length) return print(head);
      const cols = [{ title: "#", right: true }, { title: "FAILED AT" }, { title: "QUEUE" }, { title: "CLASS", min: 10 }, { title: "EXCEPTION", min: 10 }, { title: "ERROR", min: 10 }];
      print(`${head}\n${renderTable(cols, page.entries.map((e) => [String(e.index), e.failedAt, e.queue, e.class, e.exception, e.error]))}`);
    }),
});

const indexArg = { index: { type: "positional", description: "the entry's index (from failed list)", required: false } } as const;

const show = defineCommand({
  meta: { name: "show", description: "One failed job in full: payload, error, backtrace." },
  args: { ...indexArg, ...redisArgs, ...jsonArg, ...helpArg },
  run: ({ args }) =>
    withSession(args, async (s) => {
      const i = count("INDEX", args.index, -1);
      if (i < 0) throw new SettingsError("INDEX is required");
      const e = await failedAtIndex(s.client, s.keys, i);
      if (!e) throw new Error(`no failed job at index ${i}`);
      if (wantsJson(args)) return printJson({ ...summary(e), backtrace: e.backtrace, raw: e.raw });
      const pairs: [string, string][] = [["index", String(e.index)], ["failed_at", e.failedAt], ["queue", e.queue], ["class", e.class], ["args", e.args], ["exception", e.exception], ["error", e.error], ["worker", e.worker]];
      if (e.retriedAt) pairs.push(["retried_at", e.retriedAt]);
      const trace = e.backtrace.flatMap((b) => hardWrap(`  ${printable(b)}`, WIDTH, 4));
      print(`${renderPairs(pairs, WIDTH, true)}\nbacktrace:\n${trace.join("\n") || "  (none)"}`);
    }),
});

/** Progress of a bulk operation on a terminal: reading the list, then writing. */
async function withProgress<T>(verb: string, f: (p: { reading: (d: number, t: number) => void; writing: (d: number, t: number) => void }) => Promise<T>): Promise<T> {
  const reading = progress("reading failed jobs");
  const writing = progress(verb);
  try {
    return await f({ reading: reading.update, writing: (d, t) => (reading.done(), writing.update(d, t)) });
  } finally {
    reading.done();
    writing.done();
  }
}

function report(verb: string, r: BulkResult, json: boolean): void {
  if (json) return printJson({ [verb]: r.done, gone: r.missing, unreadable: r.unreadable });
  const extra = [r.missing ? `${r.missing} already gone` : "", r.unreadable ? `${r.unreadable} without a payload or queue, left in place` : ""].filter(Boolean).join("; ");
  print(`${verb} ${r.done} failed job${r.done === 1 ? "" : "s"}${extra ? ` (${extra})` : ""}`);
}

/** requeue and remove: one entry by INDEX, or --all entries matching the filters. */
function bulk(op: "requeue" | "remove") {
  const verb = op === "requeue" ? "requeued" : "removed";
  return defineCommand({
    meta: {
      name: op,
      description: op === "requeue"
        ? "Resque::Failure.requeue: set the entry's retried_at (it stays in the list) and push its job again ({\"class\",\"args\"} to its queue). INDEX for one, --all for every entry matching the filters."
        : "Resque::Failure.remove: delete the entry (LSET to \"\" then LREM, as Resque). INDEX for one, --all for every entry matching the filters.",
    },
    args: { ...indexArg, all: { type: "boolean", description: "every entry matching --queue/--class/--exception (all when none)" }, ...filterArgs, ...redisArgs, ...jsonArg, ...helpArg },
    run: ({ args }) =>
      withSession(args, async (s) => {
        const now = new Date();
        if (args.all) {
          if (args.index !== undefined) throw new SettingsError("give INDEX or --all, not both");
          const r = await withProgress(op === "requeue" ? "requeueing" : "removing", (p) => bulkFailed(s.client, s.keys, op, filterOf(args), now, p));
          return report(verb, r, wantsJson(args));
        }
        if (hasFilter(filterOf(args))) throw new SettingsError("--queue, --class and --exception need --all");
        const i = count("INDEX", args.index, -1);
        if (i < 0) throw new SettingsError("INDEX or --all is required");
        const e = await failedAtIndex(s.client, s.keys, i);
        if (!e) throw new Error(`no failed job at index ${i}`);
        const r = op === "requeue" ? await requeueEntries(s.client, s.keys, [e], now) : await removeEntries(s.client, s.keys, [e]);
        if (r.unreadable) throw new Error(`the failed job at index ${i} has no payload object or queue: nothing to requeue`);
        report(verb, r, wantsJson(args));
      }),
  });
}

const clear = defineCommand({
  meta: { name: "clear", description: "Resque::Failure.clear: delete the failed list (DEL). With filters, remove only the matching entries." },
  args: { ...filterArgs, ...redisArgs, ...jsonArg, ...helpArg },
  run: ({ args }) =>
    withSession(args, async (s) => {
      const f = filterOf(args);
      if (hasFilter(f)) {
        const r = await withProgress("removing", (p) => bulkFailed(s.client, s.keys, "remove", f, new Date(), p));
        return report("removed", r, wantsJson(args));
      }
      report("removed", { done: await clearFailed(s.client, s.keys), missing: 0, unreadable: 0 }, wantsJson(args));
    }),
});

export const failedCommand = defineCommand({
  meta: { name: "failed", description: "Resque's failed jobs: list, show, requeue, remove, clear." },
  args: { ...helpArg },
  subCommands: { list, show, requeue: bulk("requeue"), remove: bulk("remove"), clear },
});

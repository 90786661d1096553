// The Delayed page (#18): resque-scheduler's delayed jobs, Ruby's and ours. Seconds oldest first, a page of
// them at a time (ZRANGE by index), each with its first jobs (LRANGE); /delayed/<second> pages through one
// second's jobs. "Enqueue now" and "Remove" per job and per second, through delayed-admin.ts, the same code
// as `bunworker delayed`: enqueue now makes the job due, and the master lock's holder moves it to its queue.
import { delayedSeconds, delayedTotals, enqueueJobNow, enqueueSecondNow, masterLock, removeJobAt, removeSecond, secondJobs, type DelayedSecond } from "../delayed-admin";
import { redisNowMs } from "../resque-data";
import { age } from "../table";
import { action, esc, pager, type PageContext } from "./html";
import type { PageInput } from "./pages";
import type { DashboardSection, Field, Outcome } from "./section";

const SECONDS_PER_PAGE = 20;
const JOBS_PER_SECOND = 10;
const JOBS_PER_PAGE = 50;

function pageNo(url: URL): number {
  const n = Number(url.searchParams.get("page") ?? "1");
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

export const iso = (ms: number): string => new Date(ms).toISOString().replace(".000Z", "Z");

/** "in 5m", "due 3s ago". */
function relative(ms: number, nowMs: number): string {
  const d = Math.round((ms - nowMs) / 1000);
  return d > 0 ? `in ${age(d)}` : `due ${age(-d)} ago`;
}

/** Class, queue and args of a stored item, for display only (the item's own bytes are what the actions send). */
function describe(raw: string): { cls: string; queue: string; args: string } {
  try {
    const o = JSON.parse(raw) as { class?: unknown; queue?: unknown; args?: unknown };
    return { cls: typeof o.class === "string" ? o.class : "(no class)", queue: typeof o.queue === "string" ? o.queue : "(no queue)", args: JSON.stringify(o.args ?? []) };
  } catch {
    return { cls: "(not JSON)", queue: "", args: raw };
  }
}

export async function lockLine(i: PageInput): Promise<string> {
  const lock = await masterLock(i.c, i.keys);
  if (!lock.holder) return `<p class="msg warn">No process holds resque-scheduler's master lock: due jobs wait until a worker (promotion is on by default) or a Ruby scheduler runs.</p>`;
  const ttl = lock.ttlMs > 0 ? ` (for ${Math.ceil(lock.ttlMs / 1000)} s unless renewed)` : "";
  return `<p class="lock">Master lock (promotes due jobs, fires schedules): <code class="holder">${esc(lock.holder)}</code>${esc(ttl)}</p>`;
}

function jobRows(ctx: PageContext, s: DelayedSecond, back: Record<string, string | number | undefined>): string {
  const when = iso(Number(s.ts) * 1000);
  return s.items
    .map((raw) => {
      const d = describe(raw);
      const fields = { ts: s.ts, item: raw, ...back };
      const acts =
        action(ctx, "/delayed/enqueue-now", "Enqueue now", `Enqueue this ${d.cls} job now? The process holding the master lock moves it to queue ${d.queue} at its next look.`, fields) +
        " " +
        action(ctx, "/delayed/remove", "Remove", `Remove this ${d.cls} job due at ${when}?`, fields, true);
      return `<tr class="job"><td class="cls">${esc(d.cls)}</td><td>${esc(d.queue)}</td><td class="args"><code>${esc(d.args)}</code></td><td>${acts}</td></tr>`;
    })
    .join("");
}

function secondBlock(ctx: PageContext, s: DelayedSecond, nowMs: number, back: Record<string, string | number | undefined>, more: string): string {
  const dueMs = Number(s.ts) * 1000;
  const madeDue = Number.isFinite(s.score) && s.score !== Number(s.ts) ? " · made due now" : "";
  const n = s.size ?? 0;
  const acts = s.problem && s.size === null ? "" :
    action(ctx, "/delayed/enqueue-now", "Enqueue all now", `Make ${jobs(n)} due at ${iso(dueMs)} due now?`, { ts: s.ts, ...back }) + " " +
    action(ctx, "/delayed/remove", "Remove all", `Remove ${jobs(n)} due at ${iso(dueMs)}?`, { ts: s.ts, ...back }, true);
  const head = `<tr class="second" id="s${esc(s.ts)}"><th colspan="3"><a href="${esc(`${ctx.base}/delayed/${s.ts}`)}">${esc(iso(dueMs))}</a> <small>${esc(relative(dueMs, nowMs))} · second ${esc(s.ts)} · ${s.size === null ? esc(s.problem) : jobs(n)}${esc(madeDue)}</small></th><th>${acts}</th></tr>`;
  return `<tbody>${head}${jobRows(ctx, s, back)}${more}</tbody>`;
}

const jobs = (n: number): string => (n === 1 ? "1 job" : `${n} jobs`);

const HEAD = "<thead><tr><th>class</th><th>queue</th><th>args</th><th></th></tr></thead>";

async function listPage(i: PageInput): Promise<string> {
  const page = pageNo(i.url);
  const start = (page - 1) * SECONDS_PER_PAGE;
  const [list, totals, nowMs, lock] = await Promise.all([delayedSeconds(i.c, i.keys, start, SECONDS_PER_PAGE, JOBS_PER_SECOND), delayedTotals(i.c, i.keys), redisNowMs(i.c), lockLine(i)]);
  const blocks = list.seconds.map((s) => {
    const left = (s.size ?? 0) - s.items.length;
    const more = left > 0 ? `<tr><td colspan="4"><a href="${esc(`${i.ctx.base}/delayed/${s.ts}`)}">… ${left} more at this second</a></td></tr>` : "";
    return secondBlock(i.ctx, s, nowMs, { page }, more);
  });
  const seconds = list.total === 1 ? "1 second" : `${list.total} seconds`;
  const msg = i.url.searchParams.get("msg");
  return `<h1>Delayed <small>${totals.jobs === null ? "" : `${jobs(totals.jobs)} at `}${seconds}</small></h1>${msg ? `<p class="msg">${esc(msg)}</p>` : ""}${lock}
${list.total ? `<table class="delayed">${HEAD}${blocks.join("")}</table>` : "<p>No delayed jobs.</p>"}
${pager(i.ctx.base + "/delayed", {}, page, list.total > start + SECONDS_PER_PAGE)}`;
}

async function secondPage(i: PageInput, ts: string): Promise<string> {
  const page = pageNo(i.url);
  const start = (page - 1) * JOBS_PER_PAGE;
  const [s, nowMs, lock] = await Promise.all([secondJobs(i.c, i.keys, ts, start, JOBS_PER_PAGE), redisNowMs(i.c), lockLine(i)]);
  const msg = i.url.searchParams.get("msg");
  const scheduled = Number.isFinite(s.score) || (s.size ?? 0) > 0;
  return `<h1>Delayed at ${esc(iso(Number(ts) * 1000))} <small>${esc(s.size ?? 0)} jobs</small></h1>${msg ? `<p class="msg">${esc(msg)}</p>` : ""}${lock}
<p><a href="${esc(i.ctx.base)}/delayed">← all delayed jobs</a></p>
${scheduled ? `<table class="delayed">${HEAD}${secondBlock(i.ctx, s, nowMs, { from: "second", page }, "")}</table>` : "<p>Nothing is scheduled at this second.</p>"}
${pager(`${i.ctx.base}/delayed/${ts}`, {}, page, (s.size ?? 0) > start + JOBS_PER_PAGE)}`;
}

/** Back to the page the form was on, with a message. */
function back(field: Field, ts: string, msg: string): Outcome {
  const path = field("from") === "second" ? `/delayed/${ts}` : "/delayed";
  return { back: path, params: { page: field("page"), msg } };
}

async function change(i: PageInput, field: Field, op: "now" | "remove"): Promise<Outcome> {
  const ts = field("ts") ?? "";
  if (!/^\d+$/.test(ts)) return { status: 400, text: "refused: ts (the second, an integer) is required" };
  const item = field("item");
  if (item !== undefined) {
    const n = op === "now" ? await enqueueJobNow(i.c, i.keys, ts, item) : await removeJobAt(i.c, i.keys, ts, item);
    if (n === 0) return back(field, ts, "That job was no longer scheduled at that second.");
    return back(field, ts, op === "now" ? "Made 1 job due now: the master lock's holder moves it to its queue at its next look." : `Removed ${jobs(n)}.`);
  }
  if (op === "remove") return back(field, ts, `Removed ${jobs(await removeSecond(i.c, i.keys, ts))}.`);
  try {
    const n = await enqueueSecondNow(i.c, i.keys, ts);
    return back(field, ts, `Made ${jobs(n)} due now: the master lock's holder moves them to their queues at its next look.`);
  } catch (e) {
    return back(field, ts, (e as Error).message);
  }
}

export const delayedSection: DashboardSection = {
  nav: { path: "/delayed", label: "Delayed" },
  async page(i, path) {
    if (path === "/delayed") return { title: "Delayed", main: await listPage(i) };
    const m = /^\/delayed\/(\d+)$/.exec(path);
    return m ? { title: "Delayed", main: await secondPage(i, m[1] as string) } : null;
  },
  actions: {
    "/delayed/enqueue-now": (i, field) => change(i, field, "now"),
    "/delayed/remove": (i, field) => change(i, field, "remove"),
  },
};

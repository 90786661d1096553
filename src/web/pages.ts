// The dashboard's pages: each reads what it shows with a bounded number of commands (no KEYS, no SCAN) and
// returns the HTML of <main>; server.ts wraps it in the layout, or sends it alone for a live refresh.
import type { RedisClient } from "bun";
import { delayedTotals, masterLock } from "../delayed-admin";
import { failedPage, hasFilter, type FailedFilter } from "../failed-store";
import { perMinute, readHistory, recordMinute } from "../history";
import type { Keys } from "../keys";
import { queueRows, redisNowMs, resqueInfo, workerRows } from "../resque-data";
import { age } from "../table";
import { action, chart, esc, pager, qs, table, td, tdHtml, type PageContext } from "./html";

export interface PageInput {
  c: RedisClient;
  keys: Keys;
  ctx: PageContext;
  url: URL;
  /** Seconds without a heartbeat before a worker is shown dead. */
  deadAfter: number;
  server: string;
}

const PAGE_SIZE = 50;

const readHistoryEmpty = (now: number) => perMinute({}, now);

function pageNo(url: URL): number {
  const n = Number(url.searchParams.get("page") ?? "1");
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

const link = (ctx: PageContext, path: string, text: string) => `<a href="${esc(ctx.base + path)}">${esc(text)}</a>`;

export async function overview({ c, keys, ctx, server, deadAfter }: PageInput): Promise<string> {
  await recordMinute(c, keys, true).catch(() => 0);
  const [info, queues, workers, now, delayed, lock] = await Promise.all([resqueInfo(c, keys, server), queueRows(c, keys), workerRows(c, keys, deadAfter), redisNowMs(c), delayedTotals(c, keys).catch(() => null), masterLock(c, keys)]);
  // A broken history key (wrong type) costs the charts, not the page.
  let historyError = "";
  const history = await readHistory(c, keys, now).catch((e: unknown) => {
    historyError = `per-minute history unavailable: ${(e as Error).message}`;
    return readHistoryEmpty(now);
  });
  const card = (label: string, v: number, href?: string) => `<div class="card">${href ? link(ctx, href, label) : esc(label)}<b>${esc(v)}</b></div>`;
  const busy = workers.filter((w) => w.state === "working").length;
  const dead = workers.filter((w) => w.dead).length;
  const top = [...queues].sort((a, b) => b.size - a.size).slice(0, 15);
  return `<h1>Overview</h1><div class="cards">${card("pending", info.pending, "/queues")}${card("processed", info.processed)}${card("failed", info.failed, "/failed")}${card("queues", info.queues, "/queues")}${card("busy workers", busy, "/workers")}${card("idle workers", workers.length - busy, "/workers")}${dead ? card("dead workers", dead, "/workers") : ""}${delayed ? (delayed.jobs === null ? card("delayed seconds", delayed.seconds, "/delayed") : card("delayed", delayed.jobs, "/delayed")) : ""}</div>
<p class="lock">Master lock (promotes delayed jobs, fires schedules): ${lock.holder ? `<code class="holder">${esc(lock.holder)}</code>` : "nobody holds it"}</p>
${historyError ? `<p class="msg">${esc(historyError)}</p>` : ""}${chart("Processed per minute", history, (p) => p.processed, "processed")}${chart("Failed per minute", history, (p) => p.failed, "failed")}
<h2>Deepest queues</h2>${table(["queue", "size", "oldest"], top.map((q) => [tdHtml(link(ctx, `/queues/${encodeURIComponent(q.name)}`, q.name)), td(q.size, "num"), td(age(q.oldestAge), "num")]))}
<p class="note">${esc(server)} · ${esc(info.environment)}</p>`;
}

export async function queuesPage({ c, keys, ctx, url }: PageInput): Promise<string> {
  const search = url.searchParams.get("q") ?? "";
  const sort = url.searchParams.get("sort") === "name" ? "name" : "size";
  const page = pageNo(url);
  let rows = await queueRows(c, keys);
  if (search) rows = rows.filter((r) => r.name.toLowerCase().includes(search.toLowerCase()));
  if (sort === "size") rows.sort((a, b) => b.size - a.size || a.name.localeCompare(b.name));
  const shown = rows.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
  const sortLink = (s: string, label: string) => (s === sort ? `<b>${label}</b>` : `<a href="${esc(ctx.base + "/queues" + qs({ q: search, sort: s }))}">${label}</a>`);
  return `<h1>Queues <small>${rows.length}</small></h1>
<form class="filters" method="get" action="${esc(ctx.base)}/queues"><input name="q" value="${esc(search)}" placeholder="search"><input type="hidden" name="sort" value="${sort}"><button>search</button> sort by ${sortLink("size", "size")} · ${sortLink("name", "name")}</form>
${table(["queue", "size", "oldest"], shown.map((q) => [tdHtml(link(ctx, `/queues/${encodeURIComponent(q.name)}`, q.name)), td(q.size, "num"), td(age(q.oldestAge), "num")]))}
${pager(ctx.base + "/queues", { q: search, sort }, page, rows.length > page * PAGE_SIZE)}`;
}

export async function queuePage({ c, keys, ctx, url }: PageInput, name: string): Promise<string> {
  const page = pageNo(url);
  const start = (page - 1) * PAGE_SIZE;
  const [size, items] = await Promise.all([c.send("LLEN", [keys.queue(name)]) as Promise<number>, c.send("LRANGE", [keys.queue(name), String(start), String(start + PAGE_SIZE - 1)]) as Promise<string[]>]);
  const rows = items.map((raw, i) => {
    let cls = "?";
    try {
      cls = String((JSON.parse(raw) as { class?: unknown }).class ?? "?");
    } catch {
      cls = "(not JSON)";
    }
    return [td(start + i, "num"), td(cls), tdHtml(`<pre>${esc(raw)}</pre>`)];
  });
  const path = `/queues/${encodeURIComponent(name)}`;
  return `<h1>Queue ${esc(name)} <small>${size} jobs</small></h1>
${size ? action(ctx, `${path}/clear`, "Clear queue", `Delete all ${size} jobs of queue ${name}?`, {}, true) : ""}
${table(["#", "class", "payload"], rows)}${pager(ctx.base + path, {}, page, size > start + PAGE_SIZE)}`;
}

export async function workersPage({ c, keys, ctx, deadAfter }: PageInput): Promise<string> {
  const workers = await workerRows(c, keys, deadAfter);
  const hosts = new Map<string, typeof workers>();
  for (const w of workers) hosts.set(w.host, [...(hosts.get(w.host) ?? []), w]);
  const sections = [...hosts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([host, ws]) => {
    const busy = ws.filter((w) => w.state === "working").length;
    const rows = ws.map((w) => [td(w.id), td(w.state), td(w.job ? `${w.job.class} (${w.job.queue})` : ""), td(w.job?.runAt ?? w.started ?? ""), td(age(w.heartbeatAge), "num"), tdHtml(w.dead ? '<span class="dead">dead</span>' : w.heartbeatAge === null ? "no heartbeat" : "alive")]);
    return `<details open id="host-${esc(host)}"><summary><b>${esc(host)}</b> · ${ws.length} workers, ${busy} busy</summary>${table(["worker", "state", "job", "since", "heartbeat", ""], rows)}</details>`;
  });
  return `<h1>Workers <small>${workers.length}</small></h1>${sections.join("") || "<p>No workers registered.</p>"}`;
}

export function failedFilter(params: URLSearchParams): FailedFilter {
  const f: FailedFilter = {};
  for (const k of ["queue", "class", "exception"] as const) {
    const v = params.get(k);
    if (v) f[k] = v;
  }
  return f;
}

export async function failedPageHtml({ c, keys, ctx, url }: PageInput, message = ""): Promise<string> {
  const filter = failedFilter(url.searchParams);
  const page = pageNo(url);
  const p = await failedPage(c, keys, filter, (page - 1) * PAGE_SIZE, PAGE_SIZE);
  const f = { queue: filter.queue, class: filter.class, exception: filter.exception };
  const rows = p.entries.map((e) => {
    const id = `f${e.index}`;
    const detail = `<details id="${id}"><summary>${esc(e.error.split("\n")[0]?.slice(0, 200) ?? "")}</summary><pre>args: ${esc(e.args)}\nworker: ${esc(e.worker)}${e.retriedAt ? `\nretried at: ${esc(e.retriedAt)}` : ""}\n\n${esc(e.backtrace.join("\n") || "(no backtrace)")}</pre></details>`;
    const acts = action(ctx, "/failed/retry", "Retry", `Retry this ${e.class} job?`, { index: e.index, raw: e.raw, ...f, page }) + action(ctx, "/failed/remove", "Remove", `Remove this failed ${e.class} job?`, { index: e.index, raw: e.raw, ...f, page }, true);
    const when = e.retriedAt ? `${esc(e.failedAt)}<br><small>retried ${esc(e.retriedAt)}</small>` : esc(e.failedAt);
    return [tdHtml(when), td(e.queue), td(e.class, "cls"), td(e.exception), tdHtml(detail, "err"), tdHtml(acts)];
  });
  const input = (k: keyof FailedFilter) => `<input name="${k}" value="${esc(filter[k] ?? "")}" placeholder="${k}">`;
  const what = hasFilter(filter) ? `all ${p.matching} matching failed jobs` : `all ${p.total} failed jobs`;
  const bulk = p.matching ? action(ctx, "/failed/retry-all", `Retry ${hasFilter(filter) ? "all matching" : "all"}`, `Retry ${what}?`, f) + " " + action(ctx, "/failed/remove-all", `Remove ${hasFilter(filter) ? "all matching" : "all"}`, `Remove ${what}?`, f, true) : "";
  return `<h1>Failed <small>${hasFilter(filter) ? `${p.matching} of ${p.total}` : p.total}</small></h1>${message ? `<p class="msg">${esc(message)}</p>` : ""}
<form class="filters" method="get" action="${esc(ctx.base)}/failed">${input("queue")}${input("class")}${input("exception")}<button>filter</button></form>
<p>${bulk}</p>${table(["failed at", "queue", "class", "exception", "error", ""], rows, "failed")}
${pager(ctx.base + "/failed", f, page, p.matching > page * PAGE_SIZE)}`;
}

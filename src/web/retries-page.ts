// The Retries page (#18): the jobs resque-retry (Ruby's or ours, src/retrier.ts) is retrying, one row per
// attempt counter, with its last intermediate failure (failure-<counter>, kept 2 x the delay). The retry itself
// is a delayed item on the Delayed page (or already in its queue). Found by a bounded SCAN (retry-admin.ts).
import { removeCounter, scanCounters, type RetryCounter } from "../retry-admin";
import { age } from "../table";
import { action, esc, qs, table, td, tdHtml, type PageContext } from "./html";
import type { PageInput } from "./pages";
import type { DashboardSection, Field } from "./section";

const MAX_KEYS = 500;

interface FailureView {
  exception: string;
  error: string;
  failedAt: string;
  backtrace: string[];
}

function failureOf(raw: string | null): FailureView | null {
  if (raw === null) return null;
  try {
    const o = JSON.parse(raw) as Record<string, unknown>;
    const s = (v: unknown) => (typeof v === "string" ? v : v === undefined || v === null ? "" : JSON.stringify(v));
    return { exception: s(o.exception), error: s(o.error), failedAt: s(o.failed_at), backtrace: Array.isArray(o.backtrace) ? o.backtrace.map(s) : [] };
  } catch {
    return { exception: "(not JSON)", error: raw.slice(0, 500), failedAt: "", backtrace: [] };
  }
}

function failureCell(f: FailureView | null): string {
  if (!f) return tdHtml("<small>none kept (delay 0, or expired)</small>");
  const first = f.error.split("\n")[0]?.slice(0, 200) ?? "";
  return tdHtml(`<b class="exc">${esc(f.exception)}</b> <small>${esc(f.failedAt)}</small><details><summary>${esc(first)}</summary><pre>${esc(f.error)}\n\n${esc(f.backtrace.join("\n") || "(no backtrace)")}</pre></details>`, "error");
}

function row(ctx: PageContext, r: RetryCounter, cursor: string): string[] {
  const attempts = r.count === null ? tdHtml(`<span class="msg warn">${esc(r.problem)}</span>`) : td(`${r.count + 1} failed · next is attempt ${r.count + 2}`);
  const ttl = td(r.ttl >= 0 ? age(r.ttl) : "none");
  const confirm = `Remove the attempt counter of this ${r.cls} job (and its kept failure)? Its scheduled retry stays; if that fails too, it counts as a first attempt, with the full retry limit again.`;
  return [td(r.cls, "cls"), tdHtml(`<code>${esc(r.digest ? `${r.digest.slice(0, 12)}…` : "(no args)")}</code>`), attempts, ttl, failureCell(failureOf(r.failure)), tdHtml(action(ctx, "/retries/remove", "Remove counter", confirm, { key: r.key, cursor }, true))];
}

async function listPage(i: PageInput): Promise<string> {
  const cursor = /^\d+$/.test(i.url.searchParams.get("cursor") ?? "") ? (i.url.searchParams.get("cursor") as string) : "0";
  const scan = await scanCounters(i.c, i.keys, cursor, MAX_KEYS);
  const msg = i.url.searchParams.get("msg");
  const more = scan.cursor !== "0" ? `<p class="pager">More keys remain to be scanned: <a href="${esc(`${i.ctx.base}/retries${qs({ cursor: scan.cursor })}`)}">continue →</a></p>` : "";
  const from = cursor !== "0" ? ` <small>(continued scan; <a href="${esc(i.ctx.base)}/retries">from the start</a>)</small>` : "";
  const rows = scan.counters.map((r) => row(i.ctx, r, cursor));
  return `<h1>Retries <small>${scan.counters.length}${scan.cursor !== "0" ? "+" : ""}</small></h1>${msg ? `<p class="msg">${esc(msg)}</p>` : ""}
<p>Jobs being retried by resque-retry's rules (Ruby's workers or ours): one attempt counter each. The retry itself waits on the <a href="${esc(i.ctx.base)}/delayed">Delayed</a> page (or in its queue).${from}</p>
${rows.length ? table(["class", "args digest", "attempts", "counter expires", "last failure", ""], rows, "retries") : "<p>No job is being retried.</p>"}
${more}`;
}

async function remove(i: PageInput, field: Field) {
  const key = field("key") ?? "";
  const cursor = field("cursor");
  try {
    const n = await removeCounter(i.c, i.keys, key);
    return { back: "/retries", params: { cursor: cursor === "0" ? undefined : cursor, msg: n ? `Removed the counter ${key}${n > 1 ? " and its failure" : ""}.` : "That counter was already gone." } };
  } catch (e) {
    return { status: 400, text: `refused: ${(e as Error).message}` };
  }
}

export const retriesSection: DashboardSection = {
  nav: { path: "/retries", label: "Retries" },
  async page(i, path) {
    return path === "/retries" ? { title: "Retries", main: await listPage(i) } : null;
  },
  actions: { "/retries/remove": remove },
};

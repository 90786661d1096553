// HTML for the dashboard, built as strings with every dynamic value escaped through esc() (a job class, an
// argument or an error message containing markup shows as text). No template engine, no build step.
import type { MinutePoint } from "../history";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function esc(v: unknown): string {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

/** A query string from the non-empty values. */
export function qs(params: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}

export interface PageContext {
  csrf: string;
  readOnly: boolean;
  /** Path prefix of every link (for a dashboard mounted under a path by a proxy): "" by default. */
  base: string;
}

const NAV: [string, string][] = [["/", "Overview"], ["/queues", "Queues"], ["/workers", "Workers"], ["/failed", "Failed"]];

export function layout(ctx: PageContext, path: string, title: string, main: string, more: [string, string][] = []): string {
  const nav = [...NAV, ...more].map(([href, label]) => `<a href="${esc(ctx.base + href)}"${href === path ? ' class="here"' : ""}>${label}</a>`).join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="csrf" content="${esc(ctx.csrf)}"><title>${esc(title)} · bunworker</title><link rel="stylesheet" href="${esc(ctx.base)}/assets/style.css">
<script src="${esc(ctx.base)}/assets/app.js" defer></script></head><body><header><strong>bunworker</strong><nav>${nav}</nav>
<label class="live"><input type="checkbox" id="live" checked> live</label>${ctx.readOnly ? '<span class="ro">read-only</span>' : ""}</header>
<main id="main">${main}</main></body></html>`;
}

/** A POST form (CSRF token included) that asks for confirmation first; nothing when read-only. */
export function action(ctx: PageContext, path: string, label: string, confirm: string, fields: Record<string, string | number | undefined> = {}, danger = false): string {
  if (ctx.readOnly) return "";
  const hidden = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join("");
  return `<form method="post" action="${esc(ctx.base + path)}" class="act" data-confirm="${esc(confirm)}"><input type="hidden" name="_csrf" value="${esc(ctx.csrf)}">${hidden}<button${danger ? ' class="danger"' : ""}>${esc(label)}</button></form>`;
}

export function pager(base: string, params: Record<string, string | number | undefined>, page: number, hasNext: boolean): string {
  const prev = page > 1 ? `<a href="${esc(base + qs({ ...params, page: page - 1 }))}">← newer</a>` : "";
  const next = hasNext ? `<a href="${esc(base + qs({ ...params, page: page + 1 }))}">older →</a>` : "";
  return prev || next ? `<p class="pager">${prev} <span>page ${page}</span> ${next}</p>` : "";
}

/** A bar chart of one series, inline SVG with a title per bar (hover shows minute and count). */
export function chart(title: string, points: MinutePoint[], pick: (p: MinutePoint) => number, cls: string): string {
  const w = 600;
  const h = 120;
  const values = points.map(pick);
  const max = Math.max(1, ...values);
  const bw = w / Math.max(1, points.length);
  const bars = points
    .map((p, i) => {
      const v = values[i] as number;
      const bh = Math.round((v / max) * (h - 20));
      const t = new Date(p.at).toISOString().slice(11, 16);
      return `<rect x="${(i * bw).toFixed(1)}" y="${h - bh}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${bh}"><title>${t} UTC: ${Math.round(v)}</title></rect>`;
    })
    .join("");
  const total = Math.round(values.reduce((a, b) => a + b, 0));
  return `<figure class="chart ${cls}"><figcaption>${esc(title)}: ${total} in the last hour, peak ${Math.round(max === 1 && !values.some((v) => v >= 1) ? 0 : max)}/min</figcaption><svg viewBox="0 0 ${w} ${h}" preserveAspectRatio="none" role="img" aria-label="${esc(title)}">${bars}</svg><div class="axis"><span>60 min ago</span><span>now</span></div></figure>`;
}

export function table(head: string[], rows: string[][], cls = ""): string {
  return `<table class="${cls}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows.map((r) => `<tr>${r.join("")}</tr>`).join("")}</tbody></table>`;
}

/** A table cell with escaped text. */
export const td = (v: unknown, cls = ""): string => `<td${cls ? ` class="${cls}"` : ""}>${esc(v)}</td>`;
/** A table cell with HTML already built from escaped parts. */
export const tdHtml = (html: string, cls = ""): string => `<td${cls ? ` class="${cls}"` : ""}>${html}</td>`;

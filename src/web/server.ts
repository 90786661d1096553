// The dashboard (#18): Bun.serve, server-rendered pages, no build step. Safe by default:
// - it listens on 127.0.0.1; on any other address it refuses to start without a token;
// - with a token, every request must carry it (a cookie set by visiting ?token=..., or Authorization: Bearer);
// - every change is a POST that must come from the dashboard's own origin (Origin, else Sec-Fetch-Site) and
//   carry the page's CSRF token; read-only mode refuses them all;
// - every value shown is escaped (html.ts) and the Content-Security-Policy allows no inline script.
import { timingSafeEqual } from "node:crypto";
import type { Server } from "bun";
import { bulkFailed, decodeEntry, removeEntries, requeueEntries } from "../failed-store";
import { SettingsError } from "../errors";
import type { Keys } from "../keys";
import { RedisConn } from "../redis";
import type { RedisTarget } from "../uri";
import { APP_JS, STYLE_CSS } from "./assets";
import { esc, layout, qs, type PageContext } from "./html";
import { failedFilter, failedPageHtml, overview, queuePage, queuesPage, workersPage, type PageInput } from "./pages";
import type { Schedule } from "../schedule";
import { delayedSection } from "./delayed-page";
import { retriesSection } from "./retries-page";
import { schedulesSection } from "./schedules-page";
import type { DashboardSection } from "./section";

export interface DashboardOptions {
  target: RedisTarget;
  keys: Keys;
  commandTimeoutMs: number;
  host: string;
  port: number;
  token?: string;
  readOnly: boolean;
  deadAfter: number;
  /** The Prometheus text for /metrics, when metrics are on. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  /** Recurring schedules defined where the dashboard runs (a worker's, or `web --schedule`), for the Schedules page. */
  schedules?: readonly Schedule[];
}

export const TOKEN_ENV = "BUNWORKER_WEB_TOKEN";
const COOKIE = "bunworker_token";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** Starting on a non-loopback address without a token is refused: anyone on the network could requeue and delete. */
export function checkExposure(host: string, token: string | undefined): void {
  if (!LOOPBACK.has(host) && !token) throw new SettingsError(`refusing to listen on ${host} without a token: give --web-token or set $${TOKEN_ENV} (or listen on 127.0.0.1)`);
}

const SECURITY_HEADERS = {
  "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "same-origin",
  "X-Frame-Options": "DENY",
  "Cache-Control": "no-store",
};

const html = (body: string, status = 200, extra: Record<string, string> = {}) => new Response(body, { status, headers: { "Content-Type": "text/html; charset=utf-8", ...SECURITY_HEADERS, ...extra } });
const text = (body: string, status: number) => new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8", ...SECURITY_HEADERS } });

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return undefined;
}

/** Same-origin check for a POST: the Origin header names this server, or (no Origin) the browser says same-origin. */
export function sameOrigin(req: Request): boolean {
  const origin = req.headers.get("origin");
  const host = req.headers.get("host");
  if (origin) {
    try {
      return new URL(origin).host === host;
    } catch {
      return false;
    }
  }
  return req.headers.get("sec-fetch-site") === "same-origin";
}

export function startDashboard(o: DashboardOptions): Server<undefined> {
  checkExposure(o.host, o.token);
  const conn = new RedisConn(o.target, o.commandTimeoutMs, "dashboard");
  const csrf = crypto.randomUUID();
  const ctx: PageContext = { csrf, readOnly: o.readOnly, base: "" };
  // Pages beyond the core four; a new one is one more entry here (section.ts).
  const sections: DashboardSection[] = [delayedSection, schedulesSection(o.schedules ?? []), retriesSection];
  const nav = sections.map((s) => [s.nav.path, s.nav.label] as [string, string]);

  const authorized = (req: Request): boolean => {
    if (!o.token) return true;
    const bearer = /^Bearer (.+)$/.exec(req.headers.get("authorization") ?? "")?.[1];
    const given = bearer ?? cookie(req, COOKIE);
    return given !== undefined && same(given, o.token);
  };

  const input = async (url: URL): Promise<PageInput> => ({ c: await conn.ready(), keys: o.keys, ctx, url, deadAfter: o.deadAfter, server: o.target.display });

  async function page(req: Request, url: URL): Promise<Response> {
    const path = url.pathname;
    let title: string;
    let main: string;
    const i = await input(url);
    if (path === "/") [title, main] = ["Overview", await overview(i)];
    else if (path === "/queues") [title, main] = ["Queues", await queuesPage(i)];
    else if (path.startsWith("/queues/")) [title, main] = ["Queue", await queuePage(i, decodeURIComponent(path.slice("/queues/".length)))];
    else if (path === "/workers") [title, main] = ["Workers", await workersPage(i)];
    else if (path === "/failed") [title, main] = ["Failed", await failedPageHtml(i, url.searchParams.get("msg") ?? "")];
    else {
      let found: { title: string; main: string } | null = null;
      for (const s of sections) if ((found = await s.page(i, path))) break;
      if (!found) return text("not found", 404);
      ({ title, main } = found);
    }
    if (req.headers.get("x-partial") === "1") return html(main);
    const here = path.startsWith("/queues/") ? "/queues" : (sections.find((s) => path.startsWith(`${s.nav.path}/`))?.nav.path ?? path);
    return html(layout(ctx, here, title, main, nav));
  }

  async function change(req: Request, url: URL): Promise<Response> {
    if (!sameOrigin(req)) return text("refused: cross-origin request", 403);
    if (o.readOnly) return text("refused: the dashboard is read-only", 403);
    const form = await req.formData().catch(() => null);
    const field = (k: string) => {
      const v = form?.get(k);
      return typeof v === "string" ? v : undefined;
    };
    const given = field("_csrf") ?? req.headers.get("x-csrf-token") ?? "";
    if (!same(given, csrf)) return text("refused: missing or stale CSRF token (reload the page)", 403);
    const { c, keys } = await input(url);
    const back = (path: string, params: Record<string, string | undefined>) => new Response(null, { status: 303, headers: { Location: path + qs(params), ...SECURITY_HEADERS } });
    const filterParams = { queue: field("queue"), class: field("class"), exception: field("exception") };
    const path = url.pathname;
    if (path === "/failed/retry" || path === "/failed/remove") {
      const raw = field("raw");
      const index = Number(field("index"));
      if (raw === undefined || !Number.isInteger(index)) return text("refused: index and raw are required", 400);
      const e = decodeEntry(index, raw);
      const r = path === "/failed/retry" ? await requeueEntries(c, keys, [e], new Date()) : await removeEntries(c, keys, [e]);
      const verb = path === "/failed/retry" ? "Retried" : "Removed";
      return back("/failed", { ...filterParams, page: field("page"), msg: r.done ? `${verb} 1 job.` : "That job was no longer in the failed list." });
    }
    if (path === "/failed/retry-all" || path === "/failed/remove-all") {
      const op = path === "/failed/retry-all" ? "requeue" : "remove";
      const r = await bulkFailed(c, keys, op, failedFilter(new URLSearchParams(Object.entries(filterParams).filter(([, v]) => v) as [string, string][])), new Date());
      const gone = r.missing ? `; ${r.missing} were already gone` : "";
      return back("/failed", { ...filterParams, msg: `${op === "requeue" ? "Retried" : "Removed"} ${r.done} jobs${gone}.` });
    }
    const clear = /^\/queues\/(.+)\/clear$/.exec(path);
    if (clear) {
      const name = decodeURIComponent(clear[1] as string);
      await c.send("DEL", [keys.queue(name)]);
      return back(`/queues/${encodeURIComponent(name)}`, {});
    }
    for (const s of sections) {
      const act = s.actions[path];
      if (!act) continue;
      const r = await act({ c, keys, ctx, url, deadAfter: o.deadAfter, server: o.target.display }, field);
      return "back" in r ? back(r.back, r.params) : text(r.text, r.status);
    }
    return text("not found", 404);
  }

  const server = Bun.serve({
    hostname: o.host,
    port: o.port,
    async fetch(req) {
      const url = new URL(req.url);
      try {
        if (o.token && req.method === "GET" && url.searchParams.has("token")) {
          const t = url.searchParams.get("token") ?? "";
          url.searchParams.delete("token");
          if (!same(t, o.token)) return text("wrong token", 401);
          return new Response(null, { status: 303, headers: { Location: url.pathname + url.search, "Set-Cookie": `${COOKIE}=${encodeURIComponent(t)}; HttpOnly; SameSite=Strict; Path=/`, ...SECURITY_HEADERS } });
        }
        if (url.pathname === "/assets/app.js") return new Response(APP_JS, { headers: { "Content-Type": "text/javascript; charset=utf-8", ...SECURITY_HEADERS } });
        if (url.pathname === "/assets/style.css") return new Response(STYLE_CSS, { headers: { "Content-Type": "text/css; charset=utf-8", ...SECURITY_HEADERS } });
        if (!authorized(req)) return html(`<!doctype html><title>bunworker</title><p>This dashboard needs its token: open <code>${esc(url.pathname)}?token=…</code></p>`, 401);
        if (url.pathname === "/metrics" && req.method === "GET") {
          if (!o.metrics) return text("metrics are off", 404);
          const m = await o.metrics();
          return new Response(m.body, { headers: { "Content-Type": m.contentType } });
        }
        if (req.method === "POST") return await change(req, url);
        if (req.method !== "GET" && req.method !== "HEAD") return text("method not allowed", 405);
        return await page(req, url);
      } catch (e) {
        return text(`error: ${(e as Error).message}`, 500);
      }
    },
  });
  const stop = server.stop.bind(server);
  Object.assign(server, { stop: (force?: boolean) => (conn.close(), stop(force)) });
  return server;
}

// The dashboard's only script and stylesheet, served from the same origin (the Content-Security-Policy allows
// no inline script): live refresh of <main> without a reload, and a confirmation before any POST form.
export const APP_JS = `"use strict";
document.addEventListener("submit", (ev) => {
  const f = ev.target;
  if (f instanceof HTMLFormElement && f.dataset.confirm && !window.confirm(f.dataset.confirm)) ev.preventDefault();
});
let busy = false;
async function refresh() {
  const live = document.getElementById("live");
  if (busy || !live || !live.checked || document.hidden) return;
  if (document.activeElement && document.activeElement.closest && document.activeElement.closest("main form")) return;
  busy = true;
  try {
    const r = await fetch(location.href, { headers: { "X-Partial": "1" }, credentials: "same-origin" });
    if (r.ok) {
      const main = document.getElementById("main");
      const html = await r.text();
      if (main && main.innerHTML !== html) {
        const open = [...main.querySelectorAll("details[open]")].map((d) => d.id).filter(Boolean);
        main.innerHTML = html;
        for (const id of open) document.getElementById(id)?.setAttribute("open", "");
      }
    }
  } catch {}
  busy = false;
}
setInterval(refresh, 3000);
`;

export const STYLE_CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{display:flex;gap:1.5em;align-items:center;padding:.6em 1em;background:#1d2733;color:#fff}
header nav a{color:#cfd8e3;margin-right:1em;text-decoration:none}header nav a.here{color:#fff;font-weight:600}
.live{margin-left:auto}.ro{background:#b58900;padding:0 .5em;border-radius:3px}
main{padding:1em 1.5em}table{border-collapse:collapse;width:100%;background:#fff;margin:.5em 0}
th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #e3e3e3;vertical-align:top}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums}.dead{color:#b00;font-weight:600}
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{background:#fff;border:1px solid #e3e3e3;padding:.6em 1em;min-width:8em}
.card b{display:block;font-size:1.6em}.chart{margin:.5em 0;background:#fff;border:1px solid #e3e3e3;padding:.5em}
.chart svg{width:100%;height:120px}.chart rect{fill:#4a90d9}.chart.failed rect{fill:#d9534f}.axis{display:flex;justify-content:space-between;font-size:11px;color:#666}
form.act{display:inline}button{cursor:pointer}button.danger{color:#b00}pre{white-space:pre-wrap;margin:.3em 0;font-size:12px}
.pager a{margin:0 .5em}.filters input{width:10em}.msg{background:#e7f3e7;border:1px solid #9c9;padding:.4em .8em}
.msg.warn{background:#fbf3e0;border-color:#e0c080}tr.second th{background:#eef2f6;font-weight:normal}tr.second th a{font-weight:600}
td.args code{word-break:break-all}.problem{color:#b00}
`;

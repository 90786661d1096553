// Aligned tables for a terminal, at most 80 columns wide: the widest columns are cut (ending in "…") until the
// table fits. Cells are made safe to print: control characters (a job class or message may carry escape
// sequences) are shown as \xNN instead of reaching the terminal.

export const WIDTH = 80;

export interface Column {
  title: string;
  /** Right-aligned (numbers). */
  right?: boolean;
  /** Never cut below this width. */
  min?: number;
}

/** Control characters (C0, DEL, C1) as visible escapes; newlines and tabs too. */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

function cut(s: string, w: number): string {
  return s.length <= w ? s : w <= 1 ? s.slice(0, w) : `${s.slice(0, w - 1)}…`;
}

export function renderTable(columns: Column[], rows: string[][], width = WIDTH): string {
  const cells = rows.map((r) => r.map(printable));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => (r[i] ?? "").length)));
  const gap = 2;
  const total = () => widths.reduce((a, b) => a + b, 0) + gap * (widths.length - 1);
  while (total() > width) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++) {
      const min = Math.max(columns[i]?.min ?? 4, 1);
      if ((widths[i] as number) > min && (widest < 0 || (widths[i] as number) > (widths[widest] as number))) widest = i;
    }
    if (widest < 0) break;
    widths[widest] = (widths[widest] as number) - 1;
  }
  const line = (r: string[]) =>
    columns
      .map((c, i) => {
        const w = widths[i] as number;
        const v = cut(r[i] ?? "", w);
        return c.right ? v.padStart(w) : i === columns.length - 1 ? v : v.padEnd(w);
      })
      .join(" ".repeat(gap))
      .trimEnd();
  return [line(columns.map((c) => c.title)), ...cells.map(line)].join("\n");
}

/** Lines of at most `width` columns: long lines are broken (not cut), continuations indented by `indent`. */
export function hardWrap(text: string, width: number, indent: number): string[] {
  const out: string[] = [];
  let rest = text;
  let first = true;
  while (first || rest.length) {
    const room = first ? width : width - indent;
    out.push((first ? "" : " ".repeat(indent)) + rest.slice(0, room));
    rest = rest.slice(room);
    first = false;
  }
  return out;
}

/** "key  value" lines within the width: values cut to one line, or with `full`, broken over several. */
export function renderPairs(pairs: [string, string][], width = WIDTH, full = false): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs
    .map(([k, v]) => {
      const value = printable(v);
      if (!full) return `${k.padEnd(w)}  ${cut(value, width - w - 2)}`;
      const [head = "", ...more] = hardWrap(value, width - w - 2, 0);
      return [`${k.padEnd(w)}  ${head}`, ...more.map((l) => `${" ".repeat(w + 2)}${l}`)].join("\n");
    })
    .join("\n");
}

/** Seconds as "45s", "12m", "3h", "2d". */
export function age(sec: number | null): string {
  if (sec === null) return "-";
  if (sec < 120) return `${sec}s`;
  if (sec < 7200) return `${Math.round(sec / 60)}m`;
  if (sec < 172800) return `${Math.round(sec / 3600)}h`;
  return `${Math.round(sec / 86400)}d`;
}

/** Word-wraps text into lines of at most `width` columns, each indented by `indent` spaces. */
export function wrap(text: string, width: number, indent: number): string[] {
  const lines: string[] = [];
  const limit = width - indent;
  let cur = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (cur && cur.length + 1 + word.length > limit) {
      lines.push(cur);
      cur = word;
    } else cur = cur ? `${cur} ${word}` : word;
  }
  if (cur) lines.push(cur);
  return lines.map((l) => " ".repeat(indent) + l);
}

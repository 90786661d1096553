// Help text for the worker and every subcommand, from their citty argument definitions: one option per line
// block, descriptions wrapped to 80 columns, colour only when writing to a terminal (and NO_COLOR is unset).
// citty's own renderUsage colours whenever CI/TEST/NO_COLOR are unset, pipes included, and aligns into one
// long row per option.
import type { ArgsDef } from "citty";
import { wrap, WIDTH } from "./table";

export interface HelpSpec {
  usage: string;
  description: string;
  args: ArgsDef;
  /** Extra sections after the options (title, lines). */
  sections?: [string, string[]][];
}

/** Colour only for a terminal: never in a pipe, never with NO_COLOR or TERM=dumb. */
export function useColour(stream: { isTTY?: boolean } = process.stdout, env: Record<string, string | undefined> = process.env): boolean {
  return Boolean(stream.isTTY) && !env.NO_COLOR && env.TERM !== "dumb";
}

const INDENT = 6;

export function renderHelp(spec: HelpSpec, colour = useColour()): string {
  const bold = (s: string) => (colour ? `\u001b[1m${s}\u001b[22m` : s);
  const cyan = (s: string) => (colour ? `\u001b[36m${s}\u001b[39m` : s);
  const out: string[] = [...wrap(spec.description, WIDTH, 0), "", `${bold("USAGE")} ${spec.usage}`, "", bold("OPTIONS")];
  for (const [name, def] of Object.entries(spec.args)) {
    if (def.type === "positional") continue;
    const hint = "valueHint" in def && def.valueHint ? `=<${def.valueHint}>` : "";
    const alias = "alias" in def && def.alias ? `, -${String(def.alias)}` : "";
    out.push(`  ${cyan(`--${name}${hint}`)}${alias}`);
    out.push(...wrap(def.description ?? "", WIDTH, INDENT));
  }
  for (const [title, lines] of spec.sections ?? []) out.push("", bold(title), ...lines);
  return out.join("\n");
}

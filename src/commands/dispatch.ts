// `bunworker <subcommand> ...`: the operator commands beside the worker. A command line whose first word is
// one of these names runs it; any other command line (flags only, as goworker's Procfile lines) is the worker.
// Flags a command does not know are refused with one line and its usage (exit 2), as the worker does.
import { runCommand, type ArgsDef, type CommandDef } from "citty";
import { SettingsError } from "../errors";
import { renderHelp } from "../help";
import { wrap, WIDTH } from "../table";
import { delayedCommand } from "./delayed";
import { enqueueCommand } from "./enqueue";
import { failedCommand } from "./failed";
import { infoCommand } from "./info";
import { queuesCommand } from "./queues";
import { webCommand } from "./web";
import { workersCommand } from "./workers";

type AnyCommand = CommandDef<ArgsDef>;

export const SUBCOMMANDS: Record<string, AnyCommand> = {
  info: infoCommand as AnyCommand,
  queues: queuesCommand as AnyCommand,
  workers: workersCommand as AnyCommand,
  failed: failedCommand as AnyCommand,
  enqueue: enqueueCommand as AnyCommand,
  delayed: delayedCommand as AnyCommand,
  web: webCommand as AnyCommand,
};

const meta = (c: AnyCommand) => c.meta as { name: string; description: string };
const defs = (c: AnyCommand) => (c.args ?? {}) as ArgsDef;

function usageOf(path: string, c: AnyCommand): string {
  const pos = Object.entries(defs(c))
    .filter(([, d]) => d.type === "positional")
    .map(([n, d]) => (d.required === false ? `[${n.toUpperCase()}]` : n.toUpperCase()));
  const subs = c.subCommands ? ` <${Object.keys(c.subCommands as object).join("|")}>` : "";
  return `bunworker ${path}${subs}${pos.length ? ` ${pos.join(" ")}` : ""} [options]`;
}

/** Refuses a flag the command does not define, and more positionals than it takes. */
function check(c: AnyCommand, argv: readonly string[]): void {
  const d = defs(c);
  const positionals = Object.values(d).filter((a) => a.type === "positional").length;
  let seen = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith("-") || a === "-") {
      if (++seen > positionals) throw new SettingsError(`unexpected argument "${a}"`);
      continue;
    }
    const body = a.replace(/^--?/, "");
    const name = body.split("=")[0] as string;
    const def = d[name] ?? Object.values(d).find((x) => "alias" in x && x.alias === name) ?? (name.startsWith("no-") && d[name.slice(3)]?.type === "boolean" ? d[name.slice(3)] : undefined);
    if (!def || def.type === "positional") throw new SettingsError(`unknown flag "${a.split("=")[0]}"`);
    if (def.type === "string" && !body.includes("=")) {
      if (argv[i + 1] === undefined) throw new SettingsError(`--${name} needs a value`);
      i++;
    }
  }
}

function groupHelp(path: string, c: AnyCommand): string {
  const subs = Object.entries(c.subCommands as Record<string, AnyCommand>);
  const lines = subs.flatMap(([n, s]) => [`  ${n}`, ...wrap(meta(s).description, WIDTH, 6)]);
  return [...wrap(meta(c).description, WIDTH, 0), "", `USAGE ${usageOf(path, c)}`, "", "COMMANDS", ...lines, "", `bunworker ${path} <command> --help shows a command's options.`].join("\n");
}

/** Runs the subcommand named by argv[0]; returns the exit status (0 ok, 1 failed, 2 bad usage). */
export async function runSubcommand(argv: readonly string[]): Promise<number> {
  let path = argv[0] as string;
  let cmd = SUBCOMMANDS[path] as AnyCommand;
  let rest = argv.slice(1);
  const fail = (e: unknown, usage: boolean): number => {
    const msg = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, " ");
    process.stderr.write(`bunworker ${path}: ${msg}\n${usage ? `usage: ${usageOf(path, cmd)}\n` : ""}`);
    return usage ? 2 : 1;
  };
  while (cmd.subCommands) {
    const subs = cmd.subCommands as Record<string, AnyCommand>;
    const next = rest[0];
    if (next === undefined || next === "--help" || next === "-h") {
      process.stdout.write(`${groupHelp(path, cmd)}\n`);
      return next === undefined ? 2 : 0;
    }
    if (!Object.hasOwn(subs, next)) return fail(new SettingsError(`unknown command "${next}"`), true);
    path = `${path} ${next}`;
    cmd = subs[next] as AnyCommand;
    rest = rest.slice(1);
  }
  try {
    check(cmd, rest);
  } catch (e) {
    return fail(e, true);
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${renderHelp({ usage: usageOf(path, cmd), description: meta(cmd).description, args: defs(cmd) })}\n`);
    return 0;
  }
  try {
    await runCommand(cmd, { rawArgs: [...rest] });
    return 0;
  } catch (e) {
    const usage = e instanceof SettingsError || (e as { code?: string }).code === "EARG";
    return fail(e, usage);
  }
}

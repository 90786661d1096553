// The operator commands' names, apart from the commands themselves: the worker checks its first word against
// them, and loads the commands (citty definitions, the dashboard, prom-client) only when one is asked for.
export const SUBCOMMAND_NAMES: readonly string[] = ["info", "queues", "workers", "failed", "enqueue", "delayed", "web"];

export function isSubcommand(argv: readonly string[]): boolean {
  const first = argv[0];
  return first !== undefined && SUBCOMMAND_NAMES.includes(first);
}

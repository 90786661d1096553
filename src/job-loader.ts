// Job discovery (issue #3): every `*.ts` module directly in jobs/, sorted, except tests and files starting
// with `_`. `bun run worker.ts` imports them from disk here; build.ts swaps this module for one that imports
// the same list statically, so the binary never loads job code from disk.
import { Glob } from "bun";
import { existsSync } from "node:fs";
import { resolve } from "node:path";

export function discoverJobFiles(dir: string): string[] {
  return [...new Glob("*.ts").scanSync({ cwd: dir, onlyFiles: true })]
    .filter((f) => !f.startsWith("_") && !f.endsWith(".test.ts") && !f.endsWith(".d.ts"))
    .sort()
    .map((f) => `${dir}/${f}`);
}

/** `dir` relative to the working directory (BUNWORKER_JOBS_DIR=./jobs). */
export async function loadJobs(dir: string): Promise<void> {
  const abs = resolve(dir);
  // Installed as a package (no jobs/ beside worker.ts), the command must be told where the project's jobs are.
  if (!existsSync(abs)) throw new Error(`no jobs folder at ${abs}: set BUNWORKER_JOBS_DIR (e.g. BUNWORKER_JOBS_DIR=./jobs)`);
  for (const file of discoverJobFiles(abs)) await import(file);
}

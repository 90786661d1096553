// Job discovery (issue #3): every `*.ts` module directly in jobs/, sorted, except tests and files starting
// with `_`. `bun run worker.ts` imports them from disk here; build.ts swaps this module for one that imports
// the same list statically, so the binary never loads job code from disk.
import { Glob } from "bun";

export function discoverJobFiles(dir: string): string[] {
  return [...new Glob("*.ts").scanSync({ cwd: dir, onlyFiles: true })]
    .filter((f) => !f.startsWith("_") && !f.endsWith(".test.ts") && !f.endsWith(".d.ts"))
    .sort()
    .map((f) => `${dir}/${f}`);
}

export async function loadJobs(dir: string): Promise<void> {
  for (const file of discoverJobFiles(dir)) await import(file);
}

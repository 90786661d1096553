// A Ruby Resque worker prunes every same-host worker whose pid does not show `resque-<digit>` in
// `ps -A -o pid,command` (reference section 6), even one with a fresh heartbeat, and writes a false DirtyExit
// failure for its running job. Resque avoids that by setting $0; Bun's process.title does not reach `ps`,
// so we do what libuv's uv_set_process_title does: overwrite the argv area that /proc/<pid>/cmdline shows.
// Linux only; anywhere else, or if anything looks wrong, it does nothing (the heartbeat re-registers us).
import { readFileSync } from "node:fs";
import { idQueues, type QueueSpec } from "./queues";
import { VERSION } from "./version";

export function setProcline(title: string): boolean {
  if (process.platform !== "linux") return false;
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 48 and 49 of proc(5) are arg_start and arg_end; `fields` starts at field 3.
    const start = Number(fields[45]);
    const end = Number(fields[46]);
    const length = end - start;
    if (!Number.isSafeInteger(start) || start <= 0 || length < 10 || length > 1 << 20) return false;
    const { toArrayBuffer } = require("bun:ffi") as typeof import("bun:ffi");
    const area = new Uint8Array(toArrayBuffer(start as never, 0, length));
    const bytes = new TextEncoder().encode(title).subarray(0, length - 1);
    area.fill(0);
    area.set(bytes);
    return true;
  } catch {
    return false;
  }
}

interface TitleParts {
  readonly queues: readonly QueueSpec[];
  readonly concurrency: number;
  readonly processes: number;
}

/** What a worker process shows from its first moment on; the launcher sets the same text once registered. */
export function workerTitle(config: TitleParts): string {
  return `resque-3.0.0: bunworker ${VERSION} ${idQueues([...config.queues])} x${config.concurrency}`;
}

/**
 * What the --processes supervisor shows. Set at once, since its argv may carry a --uri password; it keeps
 * the `resque-<digit>` prefix Ruby's prune looks for, like every bunworker process.
 */
export function supervisorTitle(config: TitleParts): string {
  return `resque-3.0.0: bunworker supervisor ${VERSION} ${idQueues([...config.queues])} x${config.processes}`;
}

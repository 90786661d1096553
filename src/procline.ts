// A Ruby Resque worker prunes every same-host worker whose pid does not show `resque-<digit>` in
// `ps -A -o pid,command` (reference section 6), even one with a fresh heartbeat, and writes a false DirtyExit
// failure for its running job. Resque avoids that by setting $0; Bun's process.title does not reach `ps`,
// so we do what libuv's uv_set_process_title does: overwrite the argv area that /proc/<pid>/cmdline shows.
// Linux only; anywhere else, or if anything looks wrong, it does nothing (the heartbeat re-registers us).
import { readFileSync } from "node:fs";

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

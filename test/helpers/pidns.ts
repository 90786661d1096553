// Pid namespaces for tests that need a worker the others cannot judge by its pid (another host or container, as
// far as /proc can tell): `unshare --pid --fork --mount-proc`, as root or in an unprivileged user namespace.
import { readFileSync, readlinkSync } from "node:fs";
import type { WorkerProcess } from "./worker-process";

function ownPidNs(): string {
  try {
    return readlinkSync("/proc/self/ns/pid");
  } catch {
    return "";
  }
}

/** The first unshare command line that gives a child pid 1 of a new pid namespace here, or why none does. */
export function findUnshare(): { cmd: string[] } | { why: string } {
  if (process.platform !== "linux") return { why: "pid namespaces are Linux only" };
  const tries = [
    ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"],
    ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc", "--kill-child"],
  ];
  const why: string[] = [];
  for (const cmd of tries) {
    try {
      const r = Bun.spawnSync([...cmd, "sh", "-c", "echo $$; readlink /proc/self/ns/pid"], { stdout: "pipe", stderr: "pipe" });
      const [pid, pidns] = r.stdout.toString().trim().split("\n");
      if (r.exitCode === 0 && pid === "1" && pidns && pidns !== ownPidNs()) return { cmd };
      why.push(`${cmd.join(" ")}: exit ${r.exitCode}, ${r.stderr.toString().trim() || `pid ${pid}, ${pidns}`}`);
    } catch (e) {
      why.push(`${cmd.join(" ")}: ${(e as Error).message}`);
    }
  }
  return { why: why.join("; ") };
}

/** The pid, as this machine sees it, of unshare's one child (the worker). */
export function innerPid(w: WorkerProcess): number | null {
  try {
    const pid = Number(readFileSync(`/proc/${w.pid}/task/${w.pid}/children`, "utf8").trim().split(/\s+/)[0]);
    return pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

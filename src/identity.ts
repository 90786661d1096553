// Who a worker process is, and whether another one is still alive (issue #9):
// 1. every process instance gets a random instance id, so two processes with equal hostname and pid (pid 1 in
//    two containers, host networking) never share a process key or a Resque worker id;
// 2. its liveness identity is the pid plus what makes a pid unambiguous: the kernel's boot id, the pid
//    namespace and the process's start time. Another process can be judged by its pid only when it shares our
//    boot and pid namespace; then a missing pid, a zombie, or a pid now owned by a process that started at
//    another time means it is dead, and a process that is there and not stopped (SIGSTOP) is alive, however old
//    its beat (a job may block its event loop for minutes, issue #14). Anything else is judged by its beat,
//    which says how long it stays valid.
import { readFileSync, readlinkSync } from "node:fs";

export interface Identity {
  pid: number;
  /** Start time in clock ticks since boot (proc(5) stat field 22); "" where unknown. */
  start: string;
  /** The pid namespace, e.g. "pid:[4026531836]"; "" where unknown. */
  pidns: string;
  /** The kernel's boot id; "" where unknown. */
  boot: string;
}

/** "stopped": the process exists but is stopped (SIGSTOP, a debugger: state T or t), so it cannot beat. */
export type Liveness = "alive" | "stopped" | "dead" | "unknown";

/** What /proc says about a pid now: its state letter and start time, or null when there is no such process. */
export interface ProcStat {
  state: string;
  start: string;
}

function read(path: string, f: (p: string) => string): string {
  try {
    return f(path).trim();
  } catch {
    return "";
  }
}

export function readProcStat(pid: number | "self"): ProcStat | null {
  const stat = read(`/proc/${pid}/stat`, (p) => readFileSync(p, "utf8"));
  if (!stat) return null;
  // Fields after the command name, which may itself hold spaces and parentheses: field 3 is the state.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0] ?? "", start: fields[19] ?? "" };
}

export function ownIdentity(): Identity {
  return {
    pid: process.pid,
    start: readProcStat("self")?.start ?? "",
    pidns: read("/proc/self/ns/pid", readlinkSync),
    boot: read("/proc/sys/kernel/random/boot_id", (p) => readFileSync(p, "utf8")),
  };
}

/** A short random id for this process instance (base 36). */
export function newInstanceId(): string {
  return crypto.getRandomValues(new Uint32Array(2)).reduce((s, n) => s + n.toString(36), "").slice(0, 8);
}

export function encodeIdentity(i: Identity): string {
  return `${i.pid}|${i.start}|${i.pidns}|${i.boot}`;
}

/** What a beat carries after its time (parseBeat): the identity and how long the beat stays valid, in ms. */
export function beatIdentity(i: Identity, validMs: number): string {
  return `${encodeIdentity(i)}|${validMs}`;
}

/**
 * A beats hash value: "<Redis-clock ms>|<identity>|<valid ms>". The beat's owner says how long it stays valid
 * (its own --dead-after), so a fleet with mixed --heartbeat-interval and --dead-after values never judges one
 * process by another's setting (issue #14). A bare number (older workers) has no identity, and a value without
 * the validity leaves it to the judge's own --dead-after (null).
 */
export function parseBeat(value: string): { ms: number; identity: Identity | null; validMs: number | null } {
  const [ms = "", pid = "", start = "", pidns = "", boot = "", valid = ""] = value.split("|");
  const identity = pid && start && pidns && boot ? { pid: Number(pid), start, pidns, boot } : null;
  const validMs = Number(valid);
  return { ms: Number(ms) || 0, identity, validMs: valid && Number.isFinite(validMs) && validMs > 0 ? validMs : null };
}

/** Judge `other` by its pid, if it lives where we can see its pid at all. */
export function liveness(other: Identity, self: Identity, stat: (pid: number) => ProcStat | null = readProcStat): Liveness {
  if (!self.boot || !self.pidns || other.boot !== self.boot || other.pidns !== self.pidns) return "unknown";
  if (other.pid === self.pid && other.start === self.start) return "alive";
  const now = stat(other.pid);
  if (!now || now.state === "Z" || now.state === "X" || now.start !== other.start) return "dead";
  // A running process whose event loop a job blocks still is "alive" (R or S), however long its beat is late.
  return now.state === "T" || now.state === "t" ? "stopped" : "alive";
}

// Preloaded by bun test (bunfig.toml): child processes and private redis-servers need more than 5 s.
// After each test, every worker child still alive is killed. At the end of the run, the suite checks that
// nothing it started outlives it: no child process, no private redis-server, nothing in its temp folder (every
// temp folder of the run, and of the processes it starts, lives under one TMPDIR of its own).
// Anything found is cleaned up and reported as a failure, so a leaking test is caught where it is added.
import { afterAll, afterEach, setDefaultTimeout } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { privateServers } from "./helpers/redis";
import { children } from "./helpers/worker-process";

setDefaultTimeout(30_000);

const runTemp = mkdtempSync(join(tmpdir(), "bunworker-test-run-"));
process.env.TMPDIR = runTemp;

afterEach(() => {
  for (const child of children) child.kill("SIGKILL");
});

/** Live (non-zombie) processes whose parent is this test process. */
function liveChildren(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((f) => /^\d+$/.test(f))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) === process.pid && state !== "Z") out.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim()}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

afterAll(async () => {
  const leaks: string[] = [];
  for (const server of [...privateServers]) {
    leaks.push(`private redis-server on port ${server.port} was never stopped`);
    await server.stop();
  }
  for (const child of children) {
    leaks.push(`child process ${child.pid} was still running`);
    child.kill("SIGKILL");
    await child.exited;
  }
  if (process.platform === "linux") for (const p of liveChildren()) leaks.push(`process ${p} outlived its test`);
  for (const entry of readdirSync(runTemp)) leaks.push(`temp file or folder ${entry} was left behind`);
  rmSync(runTemp, { recursive: true, force: true });
  if (leaks.length) throw new Error(`the test run left things behind (now cleaned up):\n  ${leaks.join("\n  ")}`);
});

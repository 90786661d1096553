// Real Ruby for the tests that check bytes against Ruby's own libraries (ActiveJob 6.1, ruby-redis). Without
// them the tests are skipped with a message, except under CI=true, where they fail: CI must run them.
import { describe } from "bun:test";

const ROOT = new URL("../..", import.meta.url).pathname;
const INSTALL = "apt-get install -y ruby ruby-activejob ruby-redis (or run .ci/run)";

function probe(): boolean {
  try {
    return Bun.spawnSync(["ruby", "-e", 'require "active_job"; require "redis"'], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
  } catch {
    return false; // no ruby on the PATH
  }
}

export const rubyAvailable = probe();
const ci = process.env.CI === "true";

/** `describe`, or `describe.skip` (with one message) when Ruby with ActiveJob is missing and CI is not set. */
export function rubyDescribe(what: string): typeof describe {
  if (rubyAvailable || ci) return describe;
  console.warn(`skipping ${what}: ruby with activejob and redis not found; ${INSTALL}`);
  return describe.skip as typeof describe;
}

/** Run test/fixtures/<script> with ruby; its stdout, or a throw with its stderr. */
export async function runRuby(script: string, args: string[]): Promise<string> {
  if (!rubyAvailable) throw new Error(`CI=true and ruby with activejob and redis is missing: ${INSTALL}`);
  const proc = Bun.spawn(["ruby", `${ROOT}test/fixtures/${script}`, ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`ruby ${script} ${args.join(" ")} exited ${code}:\n${err}`);
  return out;
}

// Ruby with redis-rb only (the delayed-job tests): under CI=true a missing ruby fails the test instead of
// skipping it (.ci/run installs it).
export const hasRuby = Boolean(Bun.which("ruby"));
export const rubyRequired = process.env.CI === "true";

/** Runs `code` with redis-rb loaded and REDIS_URL set; resolves to its stdout, trimmed. Throws on a non-zero exit. */
export async function ruby(code: string, env: Record<string, string> = {}): Promise<string> {
  if (!hasRuby) throw new Error("ruby is not installed (apt-get install ruby ruby-redis)");
  const p = Bun.spawn(["ruby", "-rredis", "-rjson", "-e", code], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [out, err, status] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (status !== 0) throw new Error(`ruby exited ${status}: ${err}`);
  return out.trim();
}

// Running real Ruby (ruby + ruby-redis) from a test. Under CI=true a missing ruby fails the test instead of
// skipping it (the brief: .ci/run installs it).
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

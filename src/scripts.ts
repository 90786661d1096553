// The Lua scripts, loaded as text (so `bun build --compile` embeds them) and run with EVALSHA, falling back to
// EVAL when the server does not know the script yet (after a restart or SCRIPT FLUSH).
import type { RedisClient } from "bun";
import includeRecord from "./lua/include-record.lua" with { type: "text" };
import cycleLua from "./lua/cycle-5.lua" with { type: "text" };
import releaseLua from "./lua/release-6.lua" with { type: "text" };
import heartbeatLua from "./lua/heartbeat-4.lua" with { type: "text" };
import unlockLua from "./lua/unlock-1.lua" with { type: "text" };

export interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
  readonly numKeys: number;
}

function script(name: string, body: string, numKeys: number, includes = ""): Script {
  const source = includes + "\n" + body;
  const sha = new Bun.CryptoHasher("sha1").update(source).digest("hex");
  return { name, source, sha, numKeys };
}

export const scripts = {
  cycle: script("cycle", cycleLua, 5, includeRecord),
  release: script("release", releaseLua, 6, includeRecord),
  heartbeat: script("heartbeat", heartbeatLua, 4),
  unlock: script("unlock", unlockLua, 1),
} as const;

/** Runs a script; keys.length must equal script.numKeys. Server errors name the script. */
export async function runScript<T>(client: RedisClient, s: Script, keys: string[], args: (string | number)[]): Promise<T> {
  // One argument array per call (this is the fetch loop's hot path); only the first element differs for EVAL.
  const argv = [s.sha, String(s.numKeys), ...keys];
  for (const a of args) argv.push(String(a));
  try {
    return (await client.send("EVALSHA", argv)) as T;
  } catch (e) {
    if (!(e instanceof Error) || !e.message.includes("NOSCRIPT")) throw tagged(s, e);
    argv[0] = s.source;
    try {
      return (await client.send("EVAL", argv)) as T;
    } catch (e2) {
      throw tagged(s, e2);
    }
  }
}

function tagged(s: Script, e: unknown): unknown {
  if (e instanceof Error && (e as { code?: string }).code === "ERR_REDIS_SERVER_ERROR") e.message = `${s.name} script: ${e.message}`;
  return e;
}

// Requeue and remove against real Ruby (#18): entries written by Ruby's JSON (as Resque's failure backend
// writes them) are requeued by bunworker and by Ruby doing exactly what Resque::Failure::Redis.requeue does
// (failure/redis.rb: decode, set retried_at, encode, LSET; Job.create pushes {"class","args"}), and the bytes
// must be identical. Under CI=true a missing ruby fails the test instead of skipping it.
import { describe, expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { decodeEntry, requeueEntries } from "../src/failed-store";
import type { Keys } from "../src/keys";
import { failedAt } from "../src/resque-time";
import { isolateKeys, REDIS_URL } from "./helpers/redis";

const haveRuby = Bun.which("ruby") !== null;
if (!haveRuby && process.env.CI === "true") {
  test("ruby is installed (CI)", () => {
    throw new Error("ruby is missing: .ci/run installs it");
  });
}

// What Resque's failure backend and Failure.requeue do, with the redis gem and Ruby's JSON (MultiJson uses it).
const RUBY = `
require 'redis'; require 'json'
r = Redis.new(url: ARGV[0]); ns = ARGV[1]; now = ARGV[2]
args = [1, 18446744073709551616, 1.0, 1.0e+20, -0.0, "ünïcödé \\"q\\" </script>", nil, true, {"k" => [1, {"n" => nil}]}, []]
entry = { failed_at: "2026/11/27 04:18:30 UTC", payload: { "class" => "Ruby::Job", "args" => args, "extra" => "kept in the entry" },
          exception: "ArgumentError", error: "boom", backtrace: ["a.rb:1:in \`perform'"], worker: "vm:1:q", queue: "rubyq" }
raw = JSON.generate(entry)
r.rpush(ns + "failed", raw)
r.rpush(ns + "ruby-failed", raw)
# Resque::Failure::Redis.requeue(0) on the copy
item = JSON.parse(r.lindex(ns + "ruby-failed", 0))
item['retried_at'] = now
r.lset(ns + "ruby-failed", 0, JSON.generate(item))
r.rpush(ns + "queue:ruby-copy", JSON.generate({ class: item['payload']['class'], args: item['payload']['args'] }))
`;

let c: RedisClient;
let keys: Keys;
let ns: string;
isolateKeys((t) => ({ c, ns, keys } = t));

describe.skipIf(!haveRuby)("against Ruby's own bytes", () => {
  test("requeue writes the entry and the job byte for byte as Resque::Failure.requeue", async () => {
    const now = new Date();
    const p = Bun.spawnSync(["ruby", "-e", RUBY, REDIS_URL, ns, failedAt(now)], { stderr: "pipe" });
    expect(p.exitCode, p.stderr.toString()).toBe(0);
    const raw = (await c.send("LINDEX", [keys.failed, "0"])) as string;
    expect(await requeueEntries(c, keys, [decodeEntry(0, raw)], now)).toEqual({ done: 1, missing: 0, unreadable: 0 });
    expect(await c.send("LINDEX", [keys.failed, "0"])).toBe(await c.send("LINDEX", [`${ns}ruby-failed`, "0"]));
    expect(await c.send("LRANGE", [keys.queue("rubyq"), "0", "-1"])).toEqual(await c.send("LRANGE", [`${ns}queue:ruby-copy`, "0", "-1"]));
    // and a second requeue replaces retried_at in place, as Ruby's Hash does
    const later = new Date(now.getTime() + 5000);
    const p2 = Bun.spawnSync(["ruby", "-e", `require 'redis'; require 'json'; r = Redis.new(url: ARGV[0]); k = ARGV[1]; i = JSON.parse(r.lindex(k, 0)); i['retried_at'] = ARGV[2]; r.lset(k, 0, JSON.generate(i))`, REDIS_URL, `${ns}ruby-failed`, failedAt(later)]);
    expect(p2.exitCode).toBe(0);
    await requeueEntries(c, keys, [decodeEntry(0, (await c.send("LINDEX", [keys.failed, "0"])) as string)], later);
    expect(await c.send("LINDEX", [keys.failed, "0"])).toBe(await c.send("LINDEX", [`${ns}ruby-failed`, "0"]));
  });
});

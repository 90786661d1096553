// Redis Sentinel (redis+sentinel://): the URI form and its errors, resolving the primary through real
// sentinels (a dead one, an unknown master name, a stale sentinel that names a replica, a wrong sentinel
// password), and a real worker process that runs jobs through a sentinel URI with passwords that never show.
// Failovers under load are in failover.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { SettingsError } from "../src/errors";
import { openSharedClient, RedisConn } from "../src/redis";
import { parseSwitch, resolvePrimary } from "../src/sentinel";
import { parseUri, type RedisTarget, type SentinelTarget, type TlsSettings } from "../src/uri";
import { freePort, freshNamespace, thrown, waitFor } from "./helpers/redis";
import { MASTER, startSentinels, type SentinelSetup } from "./helpers/sentinel";
import { spawnWorker, type WorkerProcess } from "./helpers/worker-process";

const NO_TLS: TlsSettings = { insecureTls: false, tlsCert: "" };

describe("parseUri: redis+sentinel://", () => {
  test.each([
    {
      uri: "redis+sentinel://127.0.0.1:26379/mymaster",
      want: { display: "redis+sentinel://127.0.0.1:26379/mymaster", db: 0, tls: false, username: "", password: "",
        sentinel: { hosts: [{ host: "127.0.0.1", port: 26379 }], master: "mymaster", username: "", password: "", sentinelUsername: "", sentinelPassword: "" } },
    },
    {
      uri: "redis+sentinel://h1:1,h2,[::1]:3/mymaster/4",
      want: { db: 4, sentinel: { hosts: [{ host: "h1", port: 1 }, { host: "h2", port: 26379 }, { host: "::1", port: 3 }], master: "mymaster" } },
    },
    {
      uri: "redis+sentinel://worker:p%40ss%2F@h:1/my%2Fmaster?sentinelUsername=sent&sentinelPassword=s%3Dcret",
      want: { display: "redis+sentinel://worker:***@h:1/my%2Fmaster?sentinelUsername=sent&sentinelPassword=***",
        sentinel: { master: "my/master", username: "worker", password: "p@ss/", sentinelUsername: "sent", sentinelPassword: "s=cret" } },
    },
    { uri: "redis+sentinel://:pw@h:1/m", want: { display: "redis+sentinel://:***@h:1/m", sentinel: { username: "", password: "pw" } } },
    { uri: "redis+sentinel://pw@h:1/m/", want: { display: "redis+sentinel://***@h:1/m/", db: 0, sentinel: { password: "pw" } } },
    { uri: "REDIS+SENTINEL://h:1/m", want: { sentinel: { master: "m" } } },
  ])("$uri", ({ uri, want }) => {
    expect(parseUri(uri, NO_TLS)).toMatchObject(want as object);
  });

  test("the url is only a label that Bun's client refuses, so nothing can connect to it by mistake", () => {
    const t = parseUri("redis+sentinel://:secret@h:1/m", NO_TLS);
    expect(t.url).toBe(t.display);
    expect(t.url).not.toContain("secret");
    expect(() => new RedisClient(t.url)).toThrow();
  });

  test.each([
    { uri: "redis+sentinel:///mymaster", message: 'no sentinel hosts in "redis+sentinel:///mymaster"' },
    { uri: "redis+sentinel://:secret@/mymaster", message: 'no sentinel hosts in "redis+sentinel://:***@/mymaster"' },
    { uri: "redis+sentinel://h:26379", message: 'no master name in "redis+sentinel://h:26379"' },
    { uri: "redis+sentinel://u:secret@h:26379/", message: 'no master name in "redis+sentinel://u:***@h:26379/"' },
    { uri: "redis+sentinel://h:26379//2", message: "no master name" },
    { uri: "redis+sentinel://h:99999/m", message: 'bad sentinel port "99999" in "redis+sentinel://h:99999/m" (1-65535)' },
    { uri: "redis+sentinel://h:0/m", message: 'bad sentinel port "0"' },
    { uri: "redis+sentinel://h:x/m", message: 'bad sentinel port "x"' },
    { uri: "redis+sentinel://h:/m", message: 'bad sentinel port ""' },
    { uri: "redis+sentinel://h1:1,,h2:2/m", message: 'empty sentinel host in "redis+sentinel://h1:1,,h2:2/m"' },
    { uri: "redis+sentinel://h1:1,/m", message: "empty sentinel host" },
    { uri: "redis+sentinel://:1/m", message: 'bad sentinel host ":1"' },
    { uri: "redis+sentinel://::1/m", message: "an IPv6 address goes in brackets" },
    { uri: "redis+sentinel://h 1:1/m", message: 'bad sentinel host "h 1:1"' },
    { uri: "redis+sentinel://h:1/m/x", message: 'database must be a number, got "x" in "redis+sentinel://h:1/m/x"' },
    { uri: "redis+sentinel://h:1/m/1/2", message: 'expected /<master-name>[/<db>] after the sentinel hosts, got "/m/1/2"' },
    { uri: "redis+sentinel://h:1/m?sentinelPasword=secret", message: 'unknown parameter "sentinelPasword" in "redis+sentinel://h:1/m?sentinelPasword=***" (redis+sentinel:// takes sentinelUsername, sentinelPassword)' },
    { uri: "redis+sentinel://h:1/m%zz", message: 'bad percent-encoding in "redis+sentinel://h:1/m%zz"' },
  ])("$uri is refused", ({ uri, message }) => {
    const e = thrown(() => parseUri(uri, NO_TLS));
    expect(e).toBeInstanceOf(SettingsError);
    expect(e.message).toStartWith("--uri: ");
    expect(e.message).toContain(message);
    expect(e.message).not.toContain("secret");
    expect(e.message.split("\n")).toHaveLength(1);
  });

  test("the TLS flags need rediss://, which Sentinel URIs are not", () => {
    expect(() => parseUri("redis+sentinel://h:1/m", { insecureTls: true, tlsCert: "" })).toThrow("--insecure-tls needs a rediss:// URI");
  });
});

describe("parseSwitch (the +switch-master message)", () => {
  test.each([
    ["mymaster 127.0.0.1 6379 127.0.0.1 6380", { host: "127.0.0.1", port: 6380 }],
    ["other 127.0.0.1 6379 127.0.0.1 6380", null],
    ["mymaster 127.0.0.1 6379", null],
    ["mymaster a b c x", null],
  ])("%p", (message, want) => {
    expect(parseSwitch(message, "mymaster")).toEqual(want);
  });
});

describe("against real sentinels, with passwords for the primary and for the sentinels", () => {
  let s: SentinelSetup;
  let target: RedisTarget;
  let sentinel: SentinelTarget;
  const withHosts = (hosts: { host: string; port: number }[], extra: Partial<SentinelTarget> = {}): SentinelTarget => ({ ...sentinel, hosts, ...extra });
  const at = (port: number) => ({ host: "127.0.0.1", port });

  beforeAll(async () => {
    s = await startSentinels({ password: "pr1mary-pw", sentinelPassword: "sent1nel-pw" });
    target = parseUri(s.uri(), NO_TLS);
    sentinel = target.sentinel as SentinelTarget;
  });
  afterAll(async () => {
    await s?.stop();
  });

  test("resolvePrimary asks the sentinels and verifies the answer", async () => {
    expect(await resolvePrimary(sentinel, 2000)).toEqual(at(s.primary.port));
  });

  test("a sentinel that does not answer is skipped for the next", async () => {
    const dead = at(await freePort());
    expect(await resolvePrimary(withHosts([dead, ...sentinel.hosts]), 2000)).toEqual(at(s.primary.port));
  });

  test("no sentinel answers: one line naming each, within the per-sentinel timeouts", async () => {
    const dead = [at(await freePort()), at(await freePort())];
    const started = Date.now();
    const e = await resolvePrimary(withHosts(dead), 5000).then(() => new Error("expected a rejection"), (x: Error) => x);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(e.message).toStartWith(`no primary for master "${MASTER}" from the sentinels: 127.0.0.1:${dead[0]?.port}: `);
    expect(e.message).toContain(`; 127.0.0.1:${dead[1]?.port}: `);
    expect(e.message.split("\n")).toHaveLength(1);
  });

  test("an unknown master name", async () => {
    const e = await resolvePrimary(withHosts(sentinel.hosts, { master: "nosuchmaster" }), 2000).then(() => new Error("expected a rejection"), (x: Error) => x);
    expect(e.message).toBe(`no sentinel knows a master named "nosuchmaster" (asked ${sentinel.hosts.map((h) => `127.0.0.1:${h.port}`).join(", ")})`);
  });

  test("a wrong sentinel password: the reason, never the password", async () => {
    const e = await resolvePrimary(withHosts(sentinel.hosts.slice(0, 1), { sentinelPassword: "wrong-sentinel-pw" }), 2000).then(() => new Error("expected a rejection"), (x: Error) => x);
    expect(e.message).toMatch(/WRONGPASS|invalid username-password/);
    expect(e.message).not.toContain("wrong-sentinel-pw");
    expect(e.message).not.toContain("sent1nel-pw");
  });

  test("RedisConn connects to the primary through the sentinels, with its password and db", async () => {
    const conn = new RedisConn(parseUri(s.uri(`/${MASTER}/5`), NO_TLS), 2000, "test");
    try {
      const info = String(await conn.run((c) => c.send("CLIENT", ["INFO"]), "CLIENT INFO"));
      expect(info).toContain(" db=5 ");
      expect(((await conn.run((c) => c.send("ROLE", []), "ROLE")) as unknown[])[0]).toBe("master");
      expect(await conn.run((c) => c.send("CONFIG", ["GET", "port"]), "CONFIG GET")).toMatchObject({ port: String(s.primary.port) });
    } finally {
      conn.close();
    }
  });

  test("the shared client is a RedisClient connected to the primary's db", async () => {
    const shared = await openSharedClient(parseUri(s.uri(`/${MASTER}/6`), NO_TLS), 2000);
    try {
      expect(shared).toBeInstanceOf(RedisClient);
      await shared.set("shared-client-key", "v");
      expect(shared.connected).toBe(true);
      const direct = s.client(s.primary.port);
      await direct.send("SELECT", ["6"]);
      expect(await direct.get("shared-client-key")).toBe("v");
      direct.close();
    } finally {
      shared.close();
    }
    expect(shared.connected).toBe(false);
  });

  describe("a worker process", () => {
    let worker: WorkerProcess | undefined;
    afterAll(async () => {
      worker?.signal("SIGKILL");
      await worker?.exited;
    });

    test("runs jobs pushed to the primary; the log shows the URI without either password", async () => {
      const ns = freshNamespace();
      worker = spawnWorker([`--uri=${s.uri()}`, `--namespace=${ns}`, "--queues=sq", "--concurrency=4", "--command-timeout=2", "--heartbeat-interval=0.5", "--shutdown-timeout=2"]);
      await worker.waitForOutput(/started/, 20_000);
      const p = s.client(s.primary.port);
      try {
        await p.send("RPUSH", [`${ns}queue:sq`, ...Array.from({ length: 20 }, (_, i) => JSON.stringify({ class: "Count", args: [`j${i}`, 1] }))]);
        await waitFor(async () => (await p.hlen(`${ns}test:runs`)) === 20, 15_000, "20 jobs to run");
        await waitFor(async () => (await p.get(`${ns}stat:processed`)) === "20", 10_000, "20 jobs acknowledged");
        expect(Object.values(await p.hgetall(`${ns}test:runs`)).every((n) => String(n) === "1")).toBe(true);
        worker.signal("SIGTERM");
        expect(await worker.exited).toBe(0);
        const out = worker.output();
        expect(out).toContain(`Redis redis+sentinel://:***@127.0.0.1:${s.sentinels[0]?.port},`);
        expect(out).toContain("?sentinelPassword=***");
        expect(out).not.toContain("pr1mary-pw");
        expect(out).not.toContain("sent1nel-pw");
      } finally {
        p.close();
      }
    }, 60_000);

    test("no sentinel answers at start-up: exit 1 after --command-timeout, one line, no password", async () => {
      const uri = `redis+sentinel://:pr1mary-pw@127.0.0.1:${await freePort()}/${MASTER}?sentinelPassword=sent1nel-pw`;
      worker = spawnWorker([`--uri=${uri}`, "--queues=sq", "--command-timeout=1"]);
      expect(await worker.exited).toBe(1);
      const lines = worker.output().trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toStartWith(`bunworker: cannot reach Redis at redis+sentinel://:***@127.0.0.1:`);
      expect(lines[0]).toContain(`no primary for master "${MASTER}" from the sentinels`);
      expect(worker.output()).not.toContain("pr1mary-pw");
      expect(worker.output()).not.toContain("sent1nel-pw");
    }, 30_000);
  });

  // Last: it reconfigures the third sentinel for good.
  test("a stale sentinel naming a replica is not believed: the next sentinel is asked", async () => {
    const third = s.sentinel(2);
    try {
      // The third sentinel forgets the real primary and watches the replica under the same name instead.
      expect(await third.send("SENTINEL", ["REMOVE", MASTER])).toBe("OK");
      expect(await third.send("SENTINEL", ["MONITOR", MASTER, "127.0.0.1", String(s.replica.port), "2"])).toBe("OK");
      expect(await third.send("SENTINEL", ["SET", MASTER, "auth-pass", s.password])).toBe("OK");
      const stale = sentinel.hosts[2] as { host: string; port: number };
      expect(await third.send("SENTINEL", ["get-master-addr-by-name", MASTER])).toEqual(["127.0.0.1", String(s.replica.port)]);
      expect(await resolvePrimary(withHosts([stale, ...sentinel.hosts.slice(0, 2)]), 2000)).toEqual(at(s.primary.port));
      const e = await resolvePrimary(withHosts([stale]), 2000).then(() => new Error("expected a rejection"), (x: Error) => x);
      expect(e.message).toBe(`no primary for master "${MASTER}" from the sentinels: 127.0.0.1:${stale.port} names 127.0.0.1:${s.replica.port}, but it is a replica, not a primary`);
    } finally {
      third.close();
    }
  });
});

// Redis URIs (reference: bun-redis-client.md, URL forms and TLS): parsing, redaction, and real connections to
// private servers with an ACL user, over a unix socket, and over TLS with a CA of our own.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RedisClient, type Subprocess } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SettingsError } from "../src/errors";
import { parseUri, redact, type RedisTarget, type TlsSettings } from "../src/uri";
import { freePort, freshNamespace, startRedis, thrown, type PrivateRedis, waitFor } from "./helpers/redis";
import { spawnWorker } from "./helpers/worker-process";

const NO_TLS: TlsSettings = { insecureTls: false, tlsCert: "" };


describe("parseUri", () => {
  test.each([
    { uri: "redis://localhost:6379/", want: { url: "redis://localhost:6379/", display: "redis://localhost:6379/", tls: false, db: 0 } },
    { uri: "redis://127.0.0.1:6379", want: { url: "redis://127.0.0.1:6379", display: "redis://127.0.0.1:6379", tls: false, db: 0 } },
    // Bun's client takes credentials and db from a redis:// URL itself; we pass the URL through unchanged
    { uri: "redis://user:pass@host:1234/5", want: { url: "redis://user:pass@host:1234/5", display: "redis://user:***@host:1234/5", tls: false, db: 0, username: "", password: "" } },
    { uri: "redis://:onlypass@host/2", want: { url: "redis://:onlypass@host/2", display: "redis://:***@host/2" } },
    { uri: "redis://onlypass@host", want: { display: "redis://***@host" } },
    { uri: "redis://u:p%40ss@host/1", want: { display: "redis://u:***@host/1" } },
    { uri: "rediss://cache.example.com:6380/0", want: { url: "rediss://cache.example.com:6380/0", display: "rediss://cache.example.com:6380/0", tls: true } },
    { uri: "rediss://u:secret@host?x=1", want: { display: "rediss://u:***@host?x=1", tls: true } },
    { uri: "unix:///tmp/r.sock", want: { url: "redis+unix:///tmp/r.sock", display: "unix:///tmp/r.sock", tls: false, db: 0, username: "", password: "" } },
    { uri: "unix:///var/run/redis/r.sock?db=3", want: { url: "redis+unix:///var/run/redis/r.sock", display: "unix:///var/run/redis/r.sock?db=3", db: 3 } },
    { uri: "unix://user:pass@/abs.sock", want: { url: "redis+unix:///abs.sock", display: "unix://user:***@/abs.sock", db: 0, username: "user", password: "pass" } },
    { uri: "unix://pass@/abs.sock?db=1", want: { url: "redis+unix:///abs.sock", display: "unix://***@/abs.sock?db=1", db: 1, username: "", password: "pass" } },
    { uri: "unix://us%3Aer:p%40ss%2F@/abs.sock", want: { display: "unix://us%3Aer:***@/abs.sock", username: "us:er", password: "p@ss/" } },
  ])("$uri", ({ uri, want }) => {
    expect(parseUri(uri, NO_TLS)).toMatchObject(want as Partial<RedisTarget>);
  });

  test.each([
    { uri: "unix://relative/r.sock", message: 'unix socket path must be absolute, got "unix://relative/r.sock"' },
    { uri: "unix://r.sock", message: "unix socket path must be absolute" },
    { uri: "unix://user:pw@relative.sock", message: 'must be absolute, got "unix://user:***@relative.sock"' },
    { uri: "unix:///tmp/r.sock?db=x", message: 'db must be a number in "unix:///tmp/r.sock?db=x"' },
    { uri: "unix:///tmp/r.sock?db=-1", message: "db must be a number" },
    { uri: "http://user:secret@host/", message: 'unsupported scheme in "http://user:***@host/" (use redis://, rediss:// or unix://)' },
    { uri: "valkey://host", message: 'unsupported scheme in "valkey://' },
    { uri: "redis+unix:///tmp/r.sock", message: 'unsupported scheme in "redis+unix://' },
    { uri: "localhost:6379", message: 'unsupported scheme in "localhost:6379"' },
    { uri: "", message: "unsupported scheme" },
    { uri: "redis://host/abc", message: 'database must be a number, got "abc" in "redis://host/abc"' },
    { uri: "rediss://:secret@h:1/x", message: 'database must be a number, got "x" in "rediss://:***@h:1/x"' },
    { uri: "redis://host/3/4", message: 'database must be a number, got "3/4"' },
    { uri: "redis://", message: 'no host in "redis://"' },
    { uri: "redis://host:99999", message: 'cannot parse "redis://host:99999"' },
  ])("$uri is refused", ({ uri, message }) => {
    const e = thrown(() => parseUri(uri, NO_TLS));
    expect(e).toBeInstanceOf(SettingsError);
    expect(e.message).toStartWith("--uri: ");
    expect(e.message).toContain(message);
    expect(e.message).not.toContain("secret");
  });

  describe("TLS settings", () => {
    let dir: string;
    let caFile: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "bunworker-uri-"));
      caFile = join(dir, "ca.pem");
      writeFileSync(caFile, "-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n");
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    test("rediss:// verifies against the system roots by default", () => {
      expect(parseUri("rediss://h", NO_TLS).tls).toBe(true);
    });

    test("--tls-cert is read and used as the CA, still verifying", () => {
      expect(parseUri("rediss://h", { insecureTls: false, tlsCert: caFile }).tls).toEqual({ ca: "-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n", rejectUnauthorized: true });
    });

    test("--insecure-tls turns verification off", () => {
      expect(parseUri("rediss://h", { insecureTls: true, tlsCert: "" }).tls).toEqual({ ca: undefined, rejectUnauthorized: false });
    });

    test("redis:// and unix:// never use TLS, and refuse the TLS flags rather than ignore them", () => {
      expect(parseUri("redis://h", NO_TLS).tls).toBe(false);
      expect(parseUri("unix:///r.sock", NO_TLS).tls).toBe(false);
      expect(() => parseUri("redis://h", { insecureTls: false, tlsCert: caFile })).toThrow("--tls-cert needs a rediss:// URI");
      expect(() => parseUri("unix:///r.sock", { insecureTls: true, tlsCert: "" })).toThrow("--insecure-tls needs a rediss:// URI");
    });

    test("a password containing @ or / is redacted whole", () => {
      expect(redact("redis://u:p@ss@host/1")).toBe("redis://u:***@host/1");
      expect(redact("unix://u:p@ss@/s.sock")).toBe("unix://u:***@/s.sock");
      expect(redact("redis://u:p/w@host")).toBe("redis://u:***@host");
    });

    test.each([
      { name: "a missing file", file: () => "/nonexistent/dir/ca.pem" },
      { name: "a directory", file: () => dir },
    ])("--tls-cert naming $name is refused", ({ file }) => {
      const e = thrown(() => parseUri("rediss://h", { insecureTls: false, tlsCert: file() }));
      expect(e).toBeInstanceOf(SettingsError);
      expect(e.message).toStartWith(`--tls-cert: cannot read ${file()}: `);
    });
  });

  test("a password never appears in display", () => {
    const cases = [
      ["redis://u:hunter2@h/1", "hunter2"],
      ["redis://:hunter2@h", "hunter2"],
      ["redis://hunter2@h:6379", "hunter2"],
      ["rediss://admin:hunter2@h:6380/3", "hunter2"],
      ["unix://u:hunter2@/tmp/r.sock?db=2", "hunter2"],
      ["unix://hunter2@/tmp/r.sock", "hunter2"],
    ] as const;
    for (const [uri, secret] of cases) {
      const t = parseUri(uri, NO_TLS);
      expect(t.display).not.toContain(secret);
      expect(t.display).toContain("***");
    }
  });
});

describe("redact", () => {
  test.each([
    ["redis://h:1/", "redis://h:1/"],
    ["redis://u:p@h:1/2", "redis://u:***@h:1/2"],
    ["redis://p@h", "redis://***@h"],
    ["redis://:p@h", "redis://:***@h"],
    ["rediss://u:p@h", "rediss://u:***@h"],
    ["unix://u:p@/tmp/r.sock?db=1", "unix://u:***@/tmp/r.sock?db=1"],
    ["unix:///tmp/r@x.sock", "unix:///tmp/r@x.sock"], // an @ in the path is not a credential
    ["http://u:p@h", "http://u:***@h"],
    ["not a uri", "not a uri"],
  ])("%p -> %p", (uri, display) => {
    expect(redact(uri)).toBe(display);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Real connections. Every server here is private (startRedis or our own TLS server) and every namespace fresh.

const JOB = (tag: string) => JSON.stringify({ class: "Record", args: [tag] });

async function runToCompletion(args: string[]): Promise<{ code: number; output: string }> {
  const w = spawnWorker([...args, "--exit-on-complete", "--concurrency=2"]);
  const code = await w.exited;
  return { code, output: w.output() };
}

describe("an ACL user over TCP", () => {
  let r: PrivateRedis;
  let admin: RedisClient;
  const ns = freshNamespace();
  beforeAll(async () => {
    r = await startRedis();
    const setup = new RedisClient(r.url);
    expect(await setup.send("ACL", ["SETUSER", "worker", "on", ">s3cret", "~*", "&*", "+@all"])).toBe("OK");
    // The default user now needs a password too, so a worker that ignored the URL's credentials would fail.
    expect(await setup.send("ACL", ["SETUSER", "default", ">adminpw"])).toBe("OK");
    setup.close();
    admin = new RedisClient(`redis://default:adminpw@127.0.0.1:${r.port}/2`);
  });
  afterAll(async () => {
    admin?.close();
    await r?.stop();
  });

  test("a worker with redis://worker:s3cret@host:port/2 runs a job from db 2", async () => {
    await admin.rpush(`${ns}queue:acl`, JOB("acl"));
    const { code, output } = await runToCompletion([`--uri=redis://worker:s3cret@127.0.0.1:${r.port}/2`, `--namespace=${ns}`, "--queues=acl"]);
    expect(code).toBe(0);
    expect(await admin.lrange(`${ns}test:ran`, 0, -1)).toEqual(['["acl"]']);
    expect(await admin.llen(`${ns}queue:acl`)).toBe(0);
    expect(output).toContain(`Redis redis://worker:***@127.0.0.1:${r.port}/2`);
    expect(output).not.toContain("s3cret");
    // db 0 holds nothing of ours: the db index in the URL was used
    const db0 = new RedisClient(`redis://default:adminpw@127.0.0.1:${r.port}/0`);
    expect(await db0.keys(`${ns}*`)).toEqual([]);
    db0.close();
    // and the credentials were needed
    const anonymous = new RedisClient(`redis://127.0.0.1:${r.port}/2`, { autoReconnect: false, connectionTimeout: 2000 });
    await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
    anonymous.close();
  });

  test("a wrong password: exit 1 and one line, 'cannot reach Redis', without the password", async () => {
    await admin.rpush(`${ns}queue:wrong`, JOB("never"));
    // The default command timeout (10 s): a wrong password is final, so it must not wait that long (test timeout 30 s
    // would still pass a 10 s wait, so the reason is checked: the server's WRONGPASS, not a generic "closed").
    const w = spawnWorker([`--uri=redis://worker:WRONGpw@127.0.0.1:${r.port}/2`, `--namespace=${ns}`, "--queues=wrong", "--exit-on-complete"]);
    expect(await w.exited).toBe(1);
    const lines = w.output().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toStartWith(`bunworker: cannot reach Redis at redis://worker:***@127.0.0.1:${r.port}/2`);
    expect(lines[0]).toContain("WRONGPASS");
    expect(w.output()).not.toContain("WRONGpw");
    expect(await admin.llen(`${ns}queue:wrong`)).toBe(1);
  });
});

describe("a unix socket", () => {
  let r: PrivateRedis;
  let sockDir: string;
  let sock: string;
  let db3: RedisClient;
  const ns = freshNamespace();
  beforeAll(async () => {
    sockDir = mkdtempSync(join(tmpdir(), "bunworker-sock-"));
    sock = join(sockDir, "r.sock");
    r = await startRedis({ extra: ["--unixsocket", sock, "--unixsocketperm", "700"] });
    db3 = new RedisClient(`${r.url}/3`);
  });
  afterAll(async () => {
    db3?.close();
    await r?.stop();
    rmSync(sockDir, { recursive: true, force: true });
  });

  test("a worker with unix://<path>?db=3 runs a job from db 3", async () => {
    await db3.rpush(`${ns}queue:sock`, JOB("unix"));
    const { code, output } = await runToCompletion([`--uri=unix://${sock}?db=3`, `--namespace=${ns}`, "--queues=sock"]);
    expect(code).toBe(0);
    expect(output).toContain(`Redis unix://${sock}?db=3`);
    expect(await db3.lrange(`${ns}test:ran`, 0, -1)).toEqual(['["unix"]']);
    // registered and unregistered in db 3 as well; nothing landed in db 0
    const db0 = new RedisClient(r.url);
    expect(await db0.keys(`${ns}*`)).toEqual([]);
    db0.close();
    expect(await db3.get(`${ns}stat:processed`)).toBe("1");
  });

  test("credentials in a unix URI are sent with AUTH (default user without a password, but without rights)", async () => {
    // Bun's client sends HELLO before bunworker can send AUTH, so the default user must stay passwordless;
    // taking its rights away still proves the worker ran as the user named in the URI.
    expect(await db3.send("ACL", ["SETUSER", "admin", "on", ">adminpw", "~*", "&*", "+@all"])).toBe("OK");
    expect(await db3.send("ACL", ["SETUSER", "sockuser", "on", ">p@ss", "~*", "&*", "+@all"])).toBe("OK");
    const admin = new RedisClient(`redis://admin:adminpw@127.0.0.1:${r.port}/3`);
    try {
      expect(await db3.send("ACL", ["SETUSER", "default", "-@all", "+hello", "+auth"])).toBe("OK");
      await admin.rpush(`${ns}queue:sockauth`, JOB("unix-auth"));
      const { code, output } = await runToCompletion([`--uri=unix://sockuser:p%40ss@${sock}?db=3`, `--namespace=${ns}`, "--queues=sockauth"]);
      expect(code).toBe(0);
      expect(output).toContain(`Redis unix://sockuser:***@${sock}?db=3`);
      expect(output).not.toContain("p%40ss");
      expect(await admin.lrange(`${ns}test:ran`, 0, -1)).toEqual(['["unix"]', '["unix-auth"]']);
      // without the credentials the same socket gets nowhere
      await admin.rpush(`${ns}queue:sockauth`, JOB("never"));
      const w = spawnWorker([`--uri=unix://${sock}?db=3`, `--namespace=${ns}`, "--queues=sockauth", "--exit-on-complete", "--command-timeout=1"]);
      expect(await w.exited).toBe(1);
      expect(w.output()).toContain(`cannot reach Redis at unix://${sock}?db=3`);
      expect(await admin.llen(`${ns}queue:sockauth`)).toBe(1);
    } finally {
      await admin.send("ACL", ["SETUSER", "default", "+@all"]);
      admin.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// TLS: a CA and a server certificate of our own (openssl), a private redis-server with only a TLS port.

function tlsSupport(): { ok: true } | { ok: false; reason: string } {
  if (!Bun.which("openssl")) return { ok: false, reason: "openssl is not installed" };
  // A build without TLS refuses the directive ("Bad directive"); a build with it fails on the missing files.
  const probe = Bun.spawnSync(["redis-server", "--port", "0", "--tls-port", "1", "--tls-auth-clients", "no",
    "--tls-cert-file", "/nonexistent/c.pem", "--tls-key-file", "/nonexistent/k.pem", "--save", ""], { stdout: "pipe", stderr: "pipe", timeout: 10_000 });
  const out = probe.stdout.toString() + probe.stderr.toString();
  if (/Bad directive|not compiled|TLS support/i.test(out) && !/Failed to (configure|load)/i.test(out)) return { ok: false, reason: `this redis-server build has no TLS support: ${out.trim().split("\n").pop()}` };
  return { ok: true };
}

const TLS = tlsSupport();
if (!TLS.ok) console.warn(`skipping the TLS connection tests: ${TLS.reason}`);

function openssl(dir: string, args: string[]): void {
  const r = Bun.spawnSync(["openssl", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.toString()}`);
}

function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bunworker test CA"]);
  openssl(dir, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
  openssl(dir, ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf"]);
  return { ca: join(dir, "ca.pem"), cert: join(dir, "server.pem"), key: join(dir, "server.key") };
}

interface TlsRedis {
  port: number;
  ca: string;
  caFile: string;
  client(db?: number): RedisClient;
  stop(): Promise<void>;
}

/** startRedis() polls over plain TCP; this one listens on a TLS port only and is polled over TLS. */
async function startTlsRedis(dir: string): Promise<TlsRedis> {
  const files = makeCertificates(dir);
  const ca = await Bun.file(files.ca).text();
  const port = await freePort();
  const proc: Subprocess = Bun.spawn(["redis-server", "--port", "0", "--tls-port", String(port), "--bind", "127.0.0.1", "-::1",
    "--dir", dir, "--save", "", "--appendonly", "no", "--tls-cert-file", files.cert, "--tls-key-file", files.key,
    "--tls-ca-cert-file", files.ca, "--tls-auth-clients", "no"], { stdout: "ignore", stderr: "ignore" });
  const client = (db = 0) => new RedisClient(`rediss://localhost:${port}/${db}`, { tls: { ca }, autoReconnect: false, connectionTimeout: 1000 });
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
    const c = client();
    try {
      return (await c.ping()) === "PONG";
    } catch {
      return false;
    } finally {
      c.close();
    }
  }, 10_000, `TLS redis-server on port ${port}`);
  return {
    port,
    ca,
    caFile: files.ca,
    client,
    async stop() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

describe.skipIf(!TLS.ok)("TLS (rediss://)", () => {
  let dir: string;
  let server: TlsRedis;
  let c: RedisClient;
  const ns = freshNamespace();
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bunworker-tls-"));
    server = await startTlsRedis(dir);
    c = server.client();
  });
  afterAll(async () => {
    c?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("with --tls-cert=<our CA> the worker verifies the server and runs a job", async () => {
    await c.rpush(`${ns}queue:tls`, JOB("tls"));
    const { code, output } = await runToCompletion([`--uri=rediss://localhost:${server.port}`, `--tls-cert=${server.caFile}`, `--namespace=${ns}`, "--queues=tls"]);
    expect(code).toBe(0);
    expect(output).toContain(`Redis rediss://localhost:${server.port}`);
    expect(output).not.toContain("NOT verified");
    expect(await c.lrange(`${ns}test:ran`, 0, -1)).toEqual(['["tls"]']);
  });

  test("the certificate's IP address SAN works too", async () => {
    await c.rpush(`${ns}queue:tlsip`, JOB("tls-ip"));
    const { code } = await runToCompletion([`--uri=rediss://127.0.0.1:${server.port}/0`, `--tls-cert=${server.caFile}`, `--namespace=${ns}`, "--queues=tlsip"]);
    expect(code).toBe(0);
    expect(await c.lrange(`${ns}test:ran`, 0, -1)).toEqual(['["tls"]', '["tls-ip"]']);
  });

  test("without --tls-cert the server's certificate is not trusted: exit 1, no job runs", async () => {
    await c.rpush(`${ns}queue:untrusted`, JOB("untrusted"));
    const w = spawnWorker([`--uri=rediss://localhost:${server.port}`, `--namespace=${ns}`, "--queues=untrusted", "--exit-on-complete"]);
    expect(await w.exited).toBe(1);
    expect(w.output()).toContain(`bunworker: cannot reach Redis at rediss://localhost:${server.port}`);
    expect(w.output()).toMatch(/CERT|certificate/i);
    expect(w.output()).not.toContain("started");
    expect(await c.llen(`${ns}queue:untrusted`)).toBe(1);
  });

  test("a plain redis:// connection to the TLS port fails", async () => {
    const w = spawnWorker([`--uri=redis://localhost:${server.port}`, `--namespace=${ns}`, "--queues=untrusted", "--exit-on-complete", "--command-timeout=1"]);
    expect(await w.exited).toBe(1);
    expect(w.output()).toContain("cannot reach Redis");
    expect(await c.llen(`${ns}queue:untrusted`)).toBe(1);
  });

  test("with --insecure-tls it connects, warns that the certificate is NOT verified, and runs the job", async () => {
    const { code, output } = await runToCompletion([`--uri=rediss://localhost:${server.port}`, "--insecure-tls", `--namespace=${ns}`, "--queues=untrusted"]);
    expect(code).toBe(0);
    expect(output).toMatch(/WARN.*--insecure-tls: the Redis server's TLS certificate is NOT verified/);
    expect(await c.llen(`${ns}queue:untrusted`)).toBe(0);
    expect(await c.lrange(`${ns}test:ran`, 0, -1)).toEqual(['["tls"]', '["tls-ip"]', '["untrusted"]']);
  });

  test("--tls-cert naming an unreadable file: exit 2 with the usage line", async () => {
    const w = spawnWorker([`--uri=rediss://localhost:${server.port}`, `--tls-cert=${join(dir, "missing.pem")}`, `--namespace=${ns}`, "--queues=tls"]);
    expect(await w.exited).toBe(2);
    expect(w.output()).toContain(`bunworker: --tls-cert: cannot read ${join(dir, "missing.pem")}`);
    expect(w.output()).toContain("usage: bunworker");
  });
});

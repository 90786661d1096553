// Command line and settings (issue #2): both flag styles, env fallbacks, one-line errors naming the flag.
import { describe, expect, test } from "bun:test";
import { normalize, parseCommandLine, type Action } from "../src/cli";
import { SettingsError } from "../src/errors";
import { defaultSettings, defaultUri, validate, type Settings } from "../src/settings";
import { thrown } from "./helpers/redis";


describe("parseCommandLine", () => {
  test.each<{ argv: string[]; settings: Partial<Settings> }>([
    { argv: ["--queues=a,b"], settings: { queues: ["a", "b"] } },
    { argv: ["--queues", "a,b"], settings: { queues: ["a", "b"] } },
    { argv: ["-queues=a,b"], settings: { queues: ["a", "b"] } },
    { argv: ["-queues", "a,b"], settings: { queues: ["a", "b"] } },
    { argv: ["--queues= a , ,b "], settings: { queues: ["a", "b"] } },
    { argv: ["--queues=high=2,low=1"], settings: { queues: ["high=2", "low=1"] } },
    { argv: ["--queues=a", "--queues=b"], settings: { queues: ["b"] } },
    { argv: ["-exit-on-complete"], settings: { exitOnComplete: true } },
    { argv: ["--exit-on-complete"], settings: { exitOnComplete: true } },
    { argv: ["-exit-on-complete=true"], settings: { exitOnComplete: true } },
    { argv: ["-exit-on-complete=false"], settings: { exitOnComplete: false } },
    { argv: ["--exit-on-complete=1"], settings: { exitOnComplete: true } },
    { argv: ["--exit-on-complete=0"], settings: { exitOnComplete: false } },
    { argv: ["--use-number"], settings: { useNumber: true } },
    { argv: ["-use-number=false"], settings: { useNumber: false } },
    { argv: ["--insecure-tls"], settings: { insecureTls: true } },
    { argv: ["--concurrency=3"], settings: { concurrency: 3 } },
    { argv: ["-concurrency", "7"], settings: { concurrency: 7 } },
    { argv: ["--interval=0.5"], settings: { interval: 0.5 } },
    { argv: ["--interval", ".25"], settings: { interval: 0.25 } },
    { argv: ["--connections=4"], settings: { connections: 4 } },
    { argv: ["--shutdown-timeout=2.5"], settings: { shutdownTimeout: 2.5 } },
    { argv: ["--job-timeout=0"], settings: { jobTimeout: 0 } },
    { argv: ["--heartbeat-interval=1"], settings: { heartbeatInterval: 1 } },
    { argv: ["--dead-after=30"], settings: { deadAfter: 30 } },
    { argv: ["--command-timeout=1.5"], settings: { commandTimeout: 1.5 } },
    { argv: ["--processes=4"], settings: { processes: 4 } },
    { argv: ["--processes=auto"], settings: { processes: "auto" } },
    { argv: ["-processes", "auto"], settings: { processes: "auto" } },
    { argv: ["--uri=redis://h:1/2"], settings: { uri: "redis://h:1/2" } },
    { argv: ["--uri", "redis://u:p=x@h:1/2"], settings: { uri: "redis://u:p=x@h:1/2" } },
    { argv: ["--namespace=app:"], settings: { namespace: "app:" } },
    { argv: ["--tls-cert=/etc/ca.pem"], settings: { tlsCert: "/etc/ca.pem" } },
    { argv: ["--log-level=debug", "--log-format=json"], settings: { logLevel: "debug", logFormat: "json" } },
    { argv: ["--dead-jobs=fail"], settings: { deadJobs: "fail" } },
    { argv: [], settings: {} },
  ])("$argv", ({ argv, settings }) => {
    expect(parseCommandLine(argv, {})).toEqual({ action: "run", settings });
  });

  test.each<{ argv: string[]; action: Action }>([
    { argv: ["--help"], action: "help" },
    { argv: ["-h"], action: "help" },
    { argv: ["-help"], action: "help" },
    { argv: ["--version"], action: "version" },
    { argv: ["-version"], action: "version" },
    { argv: ["--list-jobs"], action: "list-jobs" },
    { argv: ["--queues=a", "--help"], action: "help" },
  ])("$argv -> $action", ({ argv, action }) => {
    expect(parseCommandLine(argv, {}).action).toBe(action);
  });

  test.each<{ name: string; env: Record<string, string>; argv: string[]; settings: Partial<Settings> }>([
    { name: "QUEUES", env: { QUEUES: "x,y" }, argv: [], settings: { queues: ["x", "y"] } },
    { name: "QUEUE", env: { QUEUE: "z" }, argv: [], settings: { queues: ["z"] } },
    { name: "QUEUES wins over QUEUE", env: { QUEUES: "x", QUEUE: "z" }, argv: [], settings: { queues: ["x"] } },
    { name: "the flag wins over QUEUES", env: { QUEUES: "x" }, argv: ["--queues=a"], settings: { queues: ["a"] } },
    { name: "INTERVAL", env: { INTERVAL: "2" }, argv: [], settings: { interval: 2 } },
    { name: "the flag wins over INTERVAL", env: { INTERVAL: "2" }, argv: ["--interval=3"], settings: { interval: 3 } },
    { name: "no other variable is read", env: { CONCURRENCY: "9", NAMESPACE: "x:" }, argv: [], settings: {} },
    { name: "none for --follow-queues, which the flag sets", env: {}, argv: ["--follow-queues=4"], settings: { followQueues: 4 } },
  ])("environment: $name", ({ env, argv, settings }) => {
    expect(parseCommandLine(argv, env).settings).toEqual(settings);
  });

  test.each<{ argv: string[]; message: string }>([
    { argv: ["--bogus"], message: 'unknown flag "--bogus"' },
    { argv: ["-bogus=1"], message: 'unknown flag "-bogus"' },
    { argv: ["--Queues=a"], message: 'unknown flag "--Queues"' },
    { argv: ["---queues=a"], message: 'unknown flag "---queues"' },
    { argv: ["--queues"], message: "--queues needs a value" },
    { argv: ["--queues=a", "-concurrency"], message: "--concurrency needs a value" },
    { argv: ["--uri"], message: "--uri needs a value" },
    { argv: ["--concurrency=abc"], message: '--concurrency must be a number, got "abc"' },
    { argv: ["--concurrency="], message: '--concurrency must be a number, got ""' },
    { argv: ["--interval=5s"], message: '--interval must be a number, got "5s"' },
    { argv: ["--connections=two"], message: '--connections must be a number, got "two"' },
    { argv: ["--shutdown-timeout=1e3"], message: '--shutdown-timeout must be a number, got "1e3"' },
    { argv: ["--job-timeout=0x10"], message: '--job-timeout must be a number, got "0x10"' },
    { argv: ["--heartbeat-interval=NaN"], message: '--heartbeat-interval must be a number, got "NaN"' },
    { argv: ["--dead-after=Infinity"], message: '--dead-after must be a number, got "Infinity"' },
    { argv: ["--command-timeout=1,5"], message: '--command-timeout must be a number, got "1,5"' },
    { argv: ["--processes=many"], message: '--processes must be a number, got "many"' },
    { argv: ["--exit-on-complete=yes"], message: '--exit-on-complete takes no value or true/false, got "yes"' },
    { argv: ["-use-number=on"], message: '--use-number takes no value or true/false, got "on"' },
    { argv: ["--insecure-tls="], message: '--insecure-tls takes no value or true/false, got ""' },
    { argv: ["worker"], message: 'unexpected argument "worker"' },
    { argv: ["--queues=a", "extra"], message: 'unexpected argument "extra"' },
    { argv: ["--exit-on-complete", "true"], message: 'unexpected argument "true"' },
    { argv: ["--"], message: 'unexpected argument "--"' },
  ])("$argv is refused", ({ argv, message }) => {
    const e = thrown(() => parseCommandLine(argv, {}));
    expect(e).toBeInstanceOf(SettingsError);
    expect(e.message).toBe(message);
    expect(e.message).not.toContain("\n");
  });

  test("a bad INTERVAL from the environment is refused too", () => {
    const e = thrown(() => parseCommandLine([], { INTERVAL: "soon" }));
    expect(e).toBeInstanceOf(SettingsError);
    expect(e.message).toContain('got "soon"');
    expect(e.message).toContain("$INTERVAL");
  });
});

describe("normalize", () => {
  test.each<{ argv: string[]; out: string[] }>([
    { argv: ["-queues=a,b", "-concurrency", "3"], out: ["--queues=a,b", "--concurrency=3"] },
    { argv: ["--queues", "-x"], out: ["--queues=-x"] }, // like Go's flag package: the next word is the value
    { argv: ["-exit-on-complete=false", "-use-number=1"], out: ["--no-exit-on-complete", "--use-number"] },
    { argv: ["-h"], out: ["--help"] },
    { argv: ["--uri=redis://a=b@h/"], out: ["--uri=redis://a=b@h/"] },
  ])("$argv", ({ argv, out }) => {
    expect(normalize(argv)).toEqual(out);
  });
});

describe("validate", () => {
  const base: Settings = { ...defaultSettings({}), queues: ["a"] };

  test("the defaults plus a queue are valid, and the parsed queue list is returned", () => {
    expect(validate(base)).toEqual([{ name: "a", weight: 1, skip: false }]);
    expect(validate({ ...base, queues: ["high=2", "!low", "*"], processes: "auto", deadJobs: "fail", logLevel: "trace", logFormat: "json" })).toHaveLength(3);
  });

  test.each<{ change: Record<string, unknown>; flag: string; message: string }>([
    { change: { queues: [] }, flag: "--queues", message: "--queues is required" },
    { change: { queues: ["!skip"] }, flag: "--queues", message: "only !skip" },
    { change: { queues: ["a=x"] }, flag: "--queues", message: 'weight of "a"' },
    { change: { concurrency: 0 }, flag: "--concurrency", message: "integer >= 1, got 0" },
    { change: { concurrency: 2.5 }, flag: "--concurrency", message: "got 2.5" },
    { change: { concurrency: -3 }, flag: "--concurrency", message: "got -3" },
    { change: { connections: 0 }, flag: "--connections", message: "integer >= 1, got 0" },
    { change: { processes: 0 }, flag: "--processes", message: 'or "auto", got 0' },
    { change: { processes: 1.5 }, flag: "--processes", message: "got 1.5" },
    { change: { interval: 0 }, flag: "--interval", message: ">= 0.01, got 0" },
    { change: { interval: Number.NaN }, flag: "--interval", message: "got NaN" },
    { change: { interval: Number.POSITIVE_INFINITY }, flag: "--interval", message: "got Infinity" },
    { change: { shutdownTimeout: -1 }, flag: "--shutdown-timeout", message: ">= 0, got -1" },
    { change: { jobTimeout: -0.5 }, flag: "--job-timeout", message: "got -0.5" },
    { change: { heartbeatInterval: 0 }, flag: "--heartbeat-interval", message: ">= 0.05" },
    { change: { deadAfter: 9, heartbeatInterval: 5 }, flag: "--dead-after", message: ">= 10, got 9" },
    { change: { commandTimeout: 0 }, flag: "--command-timeout", message: ">= 0.05, got 0" },
    { change: { logLevel: "verbose" }, flag: "--log-level", message: "silent, error, warn, info, debug, trace, got verbose" },
    { change: { logFormat: "xml" }, flag: "--log-format", message: "pretty or json, got xml" },
    { change: { deadJobs: "drop" }, flag: "--dead-jobs", message: "requeue or fail, got drop" },
    { change: { namespace: "" }, flag: "--namespace", message: "must not be empty" },
    { change: { blockingQueues: 33 }, flag: "--blocking-queues", message: "from 0 to 32, got 33" },
    { change: { followQueues: -1 }, flag: "--follow-queues", message: "from 0 to 32, got -1" },
    { change: { followQueues: 1.5 }, flag: "--follow-queues", message: "got 1.5" },
  ])("refused: $flag ... $message", ({ change, flag, message }) => {
    const e = thrown(() => validate({ ...base, ...(change as Partial<Settings>) }));
    expect(e).toBeInstanceOf(SettingsError);
    expect(e.message).toStartWith(flag);
    expect(e.message).toContain(message);
  });

  test("--dead-after exactly twice the heartbeat interval is accepted", () => {
    expect(() => validate({ ...base, heartbeatInterval: 5, deadAfter: 10 })).not.toThrow();
  });

  test("zero shutdown and job timeouts are accepted (0 = hand back at once / no limit)", () => {
    expect(() => validate({ ...base, shutdownTimeout: 0, jobTimeout: 0 })).not.toThrow();
  });
});

describe("defaultUri", () => {
  test.each<{ name: string; env: Record<string, string>; uri: string }>([
    { name: "nothing set", env: {}, uri: "redis://localhost:6379/" },
    { name: "REDIS_URL", env: { REDIS_URL: "redis://cache:6380/1" }, uri: "redis://cache:6380/1" },
    { name: "REDIS_PROVIDER naming another variable", env: { REDIS_PROVIDER: "REDISTOGO_URL", REDISTOGO_URL: "redis://togo:9/" }, uri: "redis://togo:9/" },
    { name: "REDIS_URL wins over REDIS_PROVIDER", env: { REDIS_URL: "redis://a/", REDIS_PROVIDER: "X_URL", X_URL: "redis://x/" }, uri: "redis://a/" },
    { name: "REDIS_PROVIDER naming an unset variable", env: { REDIS_PROVIDER: "MISSING_URL" }, uri: "redis://localhost:6379/" },
    { name: "an empty REDIS_URL", env: { REDIS_URL: "" }, uri: "redis://localhost:6379/" },
    { name: "an empty variable named by REDIS_PROVIDER", env: { REDIS_PROVIDER: "X_URL", X_URL: "" }, uri: "redis://localhost:6379/" },
  ])("$name", ({ env, uri }) => {
    expect(defaultUri(env)).toBe(uri);
    expect(defaultSettings(env).uri).toBe(uri);
  });
});

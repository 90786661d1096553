// redact() without a well-formed scheme: a mistyped --uri (`user:pw@host:6379`, `:pw@host`, `redis:/u:pw@h`)
// is echoed in the "unsupported scheme" error, so its password must be hidden there too; and secret query
// parameters (redis+sentinel://...?sentinelPassword=) are hidden wherever they are.
import { describe, expect, test } from "bun:test";
import { SettingsError } from "../src/errors";
import { parseUri, redact, type TlsSettings } from "../src/uri";
import { thrown } from "./helpers/redis";

const NO_TLS: TlsSettings = { insecureTls: false, tlsCert: "" };

describe("redact without a scheme", () => {
  test.each([
    ["user:pw@host:6379", "user:***@host:6379"],
    [":pw@host", ":***@host"],
    ["pw@host", "***@host"],
    ["my_user:pw@host", "my_user:***@host"],
    ["u:p@ss@host:1/2", "u:***@host:1/2"],
    ["redis:/u:pw@host", "redis:/u:***@host"],
    ["redis:/:pw@host", "redis:/:***@host"],
    ["redis:u:pw@host", "redis:u:***@host"],
    ["redis:pw@host", "redis:***@host"],
    ["rediss:/user:pw@h:6380/0", "rediss:/user:***@h:6380/0"],
    // nothing that looks like credentials: unchanged
    ["redis:/x", "redis:/x"],
    ["localhost:6379", "localhost:6379"],
    ["host", "host"],
    ["", ""],
  ])("%p -> %p", (uri, display) => {
    expect(redact(uri)).toBe(display);
  });
});

describe("redact keeps what it did with a scheme", () => {
  test.each([
    ["redis://u:p@h:1/2", "redis://u:***@h:1/2"],
    ["unix:///tmp/r@x.sock", "unix:///tmp/r@x.sock"], // an @ in a socket path is not a credential
    ["unix://u:p@/tmp/r.sock?db=1", "unix://u:***@/tmp/r.sock?db=1"],
    ["redis://h:1/", "redis://h:1/"],
  ])("%p -> %p", (uri, display) => {
    expect(redact(uri)).toBe(display);
  });
});

describe("redact hides secret query parameters", () => {
  test.each([
    ["redis+sentinel://h:1/m?sentinelPassword=s3cret", "redis+sentinel://h:1/m?sentinelPassword=***"],
    ["redis+sentinel://:pw@h:1,h:2/m/3?sentinelUsername=u&sentinelPassword=s3cret", "redis+sentinel://:***@h:1,h:2/m/3?sentinelUsername=u&sentinelPassword=***"],
    // an "@" inside a secret value is not the end of the credentials
    ["redis+sentinel://h:1/m?sentinelPassword=a@b", "redis+sentinel://h:1/m?sentinelPassword=***"],
    ["rediss://h?password=x&db=1", "rediss://h?password=***&db=1"],
    ["redis://h?db=1", "redis://h?db=1"],
  ])("%p -> %p", (uri, display) => {
    expect(redact(uri)).toBe(display);
  });
});

describe("the unsupported-scheme error of a URI without a scheme names no password", () => {
  test.each([
    ["user:hunter2@host:6379", 'unsupported scheme in "user:***@host:6379"'],
    [":hunter2@host", 'unsupported scheme in ":***@host"'],
    ["redis:/u:hunter2@host", 'unsupported scheme in "redis:/u:***@host"'],
    ["hunter2@host", 'unsupported scheme in "***@host"'],
  ])("%p", (uri, message) => {
    const e = thrown(() => parseUri(uri, NO_TLS));
    expect(e).toBeInstanceOf(SettingsError);
    expect(e.message).toContain(message);
    expect(e.message).not.toContain("hunter2");
    expect(e.message.split("\n")).toHaveLength(1);
  });
});

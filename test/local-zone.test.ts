// Local time without ICU on a UTC host (issue #15): the zone is judged UTC only when it provably is, and the
// Resque time strings are byte for byte those of the ICU path.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { localZoneIsUtc, tzifIsUtc } from "../src/local-zone";
import { heartbeatAt, startedAt } from "../src/resque-time";

const zone = (name: string) => readFileSync(`/usr/share/zoneinfo/${name}`);
const hasZones = existsSync("/usr/share/zoneinfo/Europe/Berlin");

describe("tzifIsUtc", () => {
  test.skipIf(!hasZones)("UTC zones are UTC; zones with an offset or any transition are not", () => {
    expect(tzifIsUtc(zone("Etc/UTC"))).toBe(true);
    expect(tzifIsUtc(zone("UTC"))).toBe(true);
    expect(tzifIsUtc(zone("Europe/Berlin"))).toBe(false);
    expect(tzifIsUtc(zone("Asia/Tokyo"))).toBe(false);
    // GMT today, but with historical transitions (LMT): not proven UTC at every instant.
    expect(tzifIsUtc(zone("Africa/Abidjan"))).toBe(false);
    expect(tzifIsUtc(zone("Etc/GMT-1"))).toBe(false);
  });

  test("anything that is not a TZif file is not UTC", () => {
    expect(tzifIsUtc(new Uint8Array(0))).toBe(false);
    expect(tzifIsUtc(new TextEncoder().encode("UTC0\n".repeat(20)))).toBe(false);
  });
});

describe("localZoneIsUtc", () => {
  test("TZ decides when it is set", () => {
    for (const tz of ["UTC", "Etc/UTC", "UTC0", ":UTC", "GMT", "Zulu"]) expect(localZoneIsUtc({ TZ: tz })).toBe(true);
    for (const tz of ["Europe/Berlin", "", "EST5EDT", "UTC+1", ":/etc/localtime"]) expect(localZoneIsUtc({ TZ: tz })).toBe(false);
  });

  test("without TZ, /etc/localtime decides", () => {
    let expected = false;
    try {
      expected = tzifIsUtc(readFileSync("/etc/localtime"));
    } catch {
      /* none: not UTC */
    }
    expect(localZoneIsUtc({})).toBe(expected);
  });
});

describe("Resque's local times", () => {
  const saved = process.env.TZ;
  afterEach(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });
  const d = new Date(Date.UTC(2026, 0, 5, 23, 4, 5, 678));

  test("a zone that is not UTC still goes through ICU (offset and date)", () => {
    process.env.TZ = "Asia/Tokyo";
    expect(heartbeatAt(d)).toBe("2026-01-06T08:04:05+09:00");
    expect(startedAt(d)).toBe("2026-01-06 08:04:05 +0900");
  });

  test("the UTC fast path writes the bytes the ICU path writes", () => {
    process.env.TZ = "UTC";
    const viaIcu = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}T${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}:${String(d.getSeconds()).padStart(2, "0")}+00:00`;
    expect(heartbeatAt(d)).toBe(viaIcu);
    expect(heartbeatAt(d)).toBe("2026-01-05T23:04:05+00:00");
    expect(startedAt(d)).toBe("2026-01-05 23:04:05 +0000");
  });
});

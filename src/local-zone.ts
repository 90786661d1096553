// Whether local time is UTC, answered without ICU (issue #15). Resque writes local times with their offset
// (resque-time.ts), and the first local-time call of a process initializes JavaScriptCore's ICU time zone
// support: 5-7 ms of CPU, on the path to the first fetch, because the first heartbeat writes such times. On a
// UTC host (most servers and containers) local time IS UTC, so the UTC getters give the same bytes for free.
// Anything this cannot prove to be UTC goes the ICU way, unchanged.
import { readFileSync } from "node:fs";

/** Names TZ can give a zone that is UTC at every instant. */
const UTC_TZ = /^:?(?:Etc\/)?(?:UTC|UCT|GMT|Universal|Zulu)0?$/;

let systemZoneIsUtc: boolean | null = null;

/**
 * A TZif file (tzfile(5)) whose zone is UTC at every instant: no transitions, one local time type, offset 0.
 * Only the version-1 header and data block are read: they describe the same zone as the 64-bit block.
 */
export function tzifIsUtc(bytes: Uint8Array): boolean {
  if (bytes.length < 50 || String.fromCharCode(...bytes.subarray(0, 4)) !== "TZif") return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const timecnt = view.getUint32(32);
  const typecnt = view.getUint32(36);
  const leapcnt = view.getUint32(28);
  // With no transitions the first ttinfo follows the 44-byte header at once: utoff (int32), isdst (u8).
  return timecnt === 0 && typecnt === 1 && leapcnt === 0 && view.getInt32(44) === 0 && view.getUint8(48) === 0;
}

/** True when the process's local time zone is UTC (TZ, else /etc/localtime); false when unsure. */
export function localZoneIsUtc(env: Record<string, string | undefined> = process.env): boolean {
  const tz = env.TZ;
  if (tz !== undefined) return UTC_TZ.test(tz);
  if (systemZoneIsUtc === null) {
    try {
      systemZoneIsUtc = tzifIsUtc(readFileSync("/etc/localtime"));
    } catch {
      systemZoneIsUtc = false; // no /etc/localtime: glibc says UTC, but let ICU decide
    }
  }
  return systemZoneIsUtc;
}

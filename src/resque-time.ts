// Time strings exactly as Resque writes them (reference sections 1, 4, 6). Ruby prints local time with a
// numeric offset; we do the same, except for failed_at, which we write in UTC because JS cannot name a zone
// the way Ruby's %Z does ("CET", "EST") and "UTC" is what Resque itself writes on a UTC host.
// On a UTC host the UTC getters give the same bytes without starting ICU's time zone support (local-zone.ts),
// which costs 5-7 ms at the first local-time call, on the way to the first fetch.
import { localZoneIsUtc } from "./local-zone";

const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, "0");

function offset(d: Date, sep: string): string {
  if (localZoneIsUtc()) return `+00${sep}00`;
  const minutes = -d.getTimezoneOffset();
  const sign = minutes < 0 ? "-" : "+";
  return `${sign}${pad(Math.trunc(Math.abs(minutes) / 60))}${sep}${pad(Math.abs(minutes) % 60)}`;
}

function localDate(d: Date): string {
  if (localZoneIsUtc()) return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function localTime(d: Date): string {
  if (localZoneIsUtc()) return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `worker:<id>` run_at: Ruby `Time.now.utc.iso8601`, e.g. 2026-11-27T04:18:29Z. */
export function runAt(d: Date): string {
  return d.toISOString().slice(0, 19) + "Z";
}

/** `failed[].failed_at` and `retried_at`: `%Y/%m/%d %H:%M:%S %Z`, in UTC. */
export function failedAt(d: Date): string {
  const iso = d.toISOString();
  return `${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)} ${iso.slice(11, 19)} UTC`;
}

/** `worker:<id>:started`: Ruby `Time.now.to_s`, e.g. 2026-11-27 04:18:29 +0000. */
export function startedAt(d: Date): string {
  return `${localDate(d)} ${localTime(d)} ${offset(d, "")}`;
}

/** `workers:heartbeat` value: Ruby `Time#iso8601`, e.g. 2026-11-27T04:18:29+00:00 (Time.parse reads it). */
export function heartbeatAt(d: Date): string {
  return `${localDate(d)}T${localTime(d)}${offset(d, ":")}`;
}

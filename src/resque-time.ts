// Time strings exactly as Resque writes them (reference sections 1, 4, 6). Ruby prints local time with a
// numeric offset; we do the same, except for failed_at, which we write in UTC because JS cannot name a zone
// the way Ruby's %Z does ("CET", "EST") and "UTC" is what Resque itself writes on a UTC host.

const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, "0");

function offset(d: Date, sep: string): string {
  const minutes = -d.getTimezoneOffset();
  const sign = minutes < 0 ? "-" : "+";
  return `${sign}${pad(Math.trunc(Math.abs(minutes) / 60))}${sep}${pad(Math.abs(minutes) % 60)}`;
}

const localDate = (d: Date) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
const localTime = (d: Date) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;

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

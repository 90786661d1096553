// A dashboard section: a nav entry, the GET pages under its path and its POST actions. server.ts lists the
// sections it serves (Delayed, Schedules, Retries); another page is one more section added to that list,
// without touching the routing.
import type { PageInput } from "./pages";

/** A form field of the POST, or undefined. */
export type Field = (name: string) => string | undefined;

/** Where a change sends the browser back (a 303 to that path and query), or a refusal with its status. */
export type Outcome = { back: string; params: Record<string, string | undefined> } | { status: number; text: string };

export interface DashboardSection {
  nav: { path: string; label: string };
  /** The title and <main> HTML of a GET path this section owns; null when the path is not one of its. */
  page(i: PageInput, path: string): Promise<{ title: string; main: string } | null>;
  /** POST path -> action. server.ts has checked the origin, the CSRF token and read-only mode before calling. */
  actions: Record<string, (i: PageInput, field: Field) => Promise<Outcome>>;
}

// A resource that jobs share, opened before the first job and closed after the last (onStart / onStop):
// here an in-memory SQLite database. RPUSH resque:queue:default '{"class":"PageVisit","args":["/home"]}'.
import { Database } from "bun:sqlite";
import { defineJob, onStart, onStop } from "../src/index";

let db: Database | null = null;

onStart(({ log }) => {
  db = new Database(":memory:");
  db.run("CREATE TABLE visits (page TEXT PRIMARY KEY, n INTEGER NOT NULL)");
  log.debug("page-visits: database opened");
});

onStop(({ log }) => {
  const total = db?.query<{ n: number }, []>("SELECT COALESCE(SUM(n), 0) AS n FROM visits").get()?.n ?? 0;
  db?.close();
  db = null;
  log.debug(`page-visits: database closed after ${total} visit(s)`);
});

defineJob("PageVisit", { queue: "default" }, (_ctx, page: string) => {
  if (!db) throw new Error("PageVisit ran outside the worker's lifecycle (no database)");
  db.run("INSERT INTO visits (page, n) VALUES (?, 1) ON CONFLICT(page) DO UPDATE SET n = n + 1", [page]);
});

// The ending of the worker programs the tests spawn, the same as worker.ts's.
import { work } from "../../src/index";

/** Runs work(); exits 0 when it returns, or 1 with "bunworker: <message>" on stderr when it throws. */
export async function workThenExit(): Promise<never> {
  try {
    await work();
    process.exit(0);
  } catch (e) {
    process.stderr.write(`bunworker: ${(e as Error).message}\n`);
    process.exit(1);
  }
}

// Middleware around every job of this worker: a request id for the job's log lines and its duration, at
// debug level (--log-level=debug to see them). The first use()d middleware is the outermost.
import { use } from "../src/index";

use(async (ctx, next) => {
  const t0 = performance.now();
  const requestId = typeof ctx.payload.request_id === "string" ? ctx.payload.request_id : crypto.randomUUID();
  try {
    await next();
    ctx.log.debug(`done in ${(performance.now() - t0).toFixed(2)} ms`, { requestId, attempt: ctx.attempt });
  } catch (e) {
    ctx.log.debug(`failed after ${(performance.now() - t0).toFixed(2)} ms`, { requestId });
    throw e; // rethrow: swallowing it would turn the failure into a success
  }
});

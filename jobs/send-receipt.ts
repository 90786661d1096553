// A typed job with Resque's hooks. Producers import the handle and enqueue with checked arguments:
//   await SendReceipt.enqueue(42, "ada@example.com");          (see jobs/_enqueue-receipts.ts)
// or from anywhere: RPUSH resque:queue:mail '{"class":"SendReceipt","args":[42,"ada@example.com"]}'.
import { defineJob, DontPerform, namespace, redis } from "../src/index";

const BLOCKED = new Set(["nobody@example.com"]);

export const SendReceipt = defineJob("SendReceipt", { queue: "mail" }, async (ctx, orderId: number, email: string) => {
  ctx.signal.throwIfAborted();
  if (!email.includes("@")) throw new TypeError(`not an email address: ${email}`);
  await redis().rpush(`${namespace()}demo:receipts`, `order ${orderId} -> ${email}`);
  console.log(`receipt for order ${orderId} sent to ${email}`);
})
  // Resque's before_perform: DontPerform skips the job (counted as processed, not failed).
  .before((_ctx, _orderId, email) => {
    if (BLOCKED.has(email)) throw new DontPerform(`${email} unsubscribed`);
  })
  // around_perform: must call perform(); here it times the job.
  .around(async (ctx, perform, orderId) => {
    const t0 = performance.now();
    await perform();
    ctx.log.debug(`receipt ${orderId} took ${(performance.now() - t0).toFixed(1)} ms`);
  })
  // on_failure: sees the error; the failure entry in resque:failed is written either way.
  .onFailure((error, ctx, orderId) => {
    ctx.log.warn(`receipt ${orderId} failed: ${error instanceof Error ? error.message : String(error)}`);
  });

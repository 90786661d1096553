// A producer (not loaded by the worker: names starting with "_" are skipped):
//   bun run jobs/_enqueue-receipts.ts           then: bun run worker.ts --queues=mail --exit-on-complete
// tsc checks every call against SendReceipt's parameters (orderId: number, email: string).
import { close } from "../src/index";
import { SendReceipt } from "./send-receipt";

await SendReceipt.enqueue(42, "ada@example.com");
await SendReceipt.enqueue(43, "nobody@example.com"); // skipped by the before hook
await SendReceipt.enqueueMany([[44, "grace@example.com"], [45, "not-an-address"]]); // one round trip; 45 fails
console.log("enqueued 4 SendReceipt jobs on queue mail");
await close();

// Issue #16, point 1: the typecheck test. `bun run typecheck` (tsc over test/) compiles this file; every
// `@ts-expect-error` line must be an error, or tsc fails with "Unused '@ts-expect-error' directive". So a
// handle that stopped checking its arguments (e.g. enqueue(...args: unknown[])) fails the typecheck.
// Nothing here runs: the calls sit in a function that is never called.
import { defineJob, enqueueMany, type JobContext, type JobHandle } from "../src/index";

export function typedJobChecks(): void {
  const SendReceipt = defineJob("TypecheckReceipt", { queue: "mail" }, async (ctx, orderId: number, email: string) => {
    const c: JobContext = ctx;
    void c.signal;
    return `${orderId} ${email}`;
  });
  const handle: JobHandle<[number, string]> = SendReceipt;

  void handle.enqueue(42, "a@b.c");
  void SendReceipt.enqueueTo("other", 42, "a@b.c");
  void SendReceipt.enqueueMany([[1, "a"], [2, "b"]]);

  // @ts-expect-error a string where the job takes a number
  void SendReceipt.enqueue("42", "a@b.c");
  // @ts-expect-error a missing argument
  void SendReceipt.enqueue(42);
  // @ts-expect-error one argument too many
  void SendReceipt.enqueue(42, "a@b.c", true);
  // @ts-expect-error the wrong type inside a bulk
  void SendReceipt.enqueueMany([[1, "a"], [2, 3]]);
  // @ts-expect-error enqueueTo checks the args after the queue too
  void SendReceipt.enqueueTo("other", "42", "a@b.c");
  // Delayed enqueues (issue #17) check the args after the time.
  void SendReceipt.enqueueAt(new Date(), 42, "a@b.c");
  void SendReceipt.enqueueIn(300, 42, "a@b.c");
  // @ts-expect-error enqueueAt checks the args after the time
  void SendReceipt.enqueueAt(Date.now(), "42", "a@b.c");
  // @ts-expect-error enqueueIn checks the args after the delay
  void SendReceipt.enqueueIn(300, 42);

  // Optional parameters stay optional; hooks on the handle get the job's argument types.
  const Optional = defineJob("TypecheckOptional", { queue: "q" }, (_ctx, id: number, note?: string) => void [id, note])
    .before((_ctx, id, note) => void [id.toFixed(), note?.toUpperCase()])
    .around(async (_ctx, perform, id) => void [await perform(), id.toFixed()])
    .after((_ctx, id) => void id.toFixed())
    .onFailure((error, _ctx, id) => void [error, id.toFixed()]);
  void Optional.enqueue(1);
  void Optional.enqueue(1, "n");
  // @ts-expect-error the optional argument still has its type
  void Optional.enqueue(1, 2);
  // @ts-expect-error a hook's argument types come from the job: id is a number, not a string
  Optional.before((_ctx, id: string) => void id);
  // @ts-expect-error an around hook's second parameter is perform(), then the job's args
  Optional.around((_ctx, id: number) => void id);

  // @ts-expect-error the queue is required
  defineJob("TypecheckNoQueue", {}, () => {});

  void enqueueMany("q", [{ class: "X", args: [1] }]);
  // @ts-expect-error a payload needs a class
  void enqueueMany("q", [{ args: [1] }]);
}

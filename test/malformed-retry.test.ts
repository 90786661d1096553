// Issue #14, point 8: a malformed item retried from resque-web fails as malformed again, with the reason it was
// refused, not as UnknownJobError; and its failure entry holds the same retryable job, so retrying again is the
// same again (no wrapping inside wrapping). Resque's Failure.requeue pushes Job.create(queue, class, *args),
// that is Ruby's JSON.generate({"class" => ..., "args" => [...]}): the bytes are made by real Ruby here.
import { expect, test } from "bun:test";
import type { RedisClient } from "bun";
import { registryWith, startWorker } from "./helpers/in-process";
import { isolate } from "./helpers/redis";

let c: RedisClient;
let ns: string;
isolate((client, namespace) => {
  c = client;
  ns = namespace;
});

interface Entry {
  payload: { class: string; args: unknown[] };
  exception: string;
  error: string;
  queue: string;
}

/** What Resque's Failure.requeue pushes for a failure entry: Job.create's payload, encoded by Ruby's JSON. */
function rubyRequeue(entry: string): string {
  const ruby = Bun.spawnSync(["ruby", "-rjson", "-e", 'p = JSON.parse(STDIN.read)["payload"]; print JSON.generate({ "class" => p["class"], "args" => p["args"] })'], { stdin: Buffer.from(entry) });
  if (ruby.exitCode !== 0) throw new Error(`ruby failed: ${ruby.stderr.toString()}`);
  return ruby.stdout.toString();
}

async function drain(): Promise<void> {
  const w = startWorker(registryWith({ J: () => {} }), { namespace: ns, queues: ["m"], exitOnComplete: true });
  await w.done;
}

const cases = [
  { name: "not JSON", item: Buffer.from("{not json"), reason: /^payload is not valid JSON \(.+\) \(retried\)$/ },
  { name: "an array", item: Buffer.from("[1,2]"), reason: /^payload must be a JSON object, got an array \(retried\)$/ },
  { name: "no class", item: Buffer.from('{"args":[1]}'), reason: /^payload has no "class" string \(got undefined\) \(retried\)$/ },
  { name: "not UTF-8", item: Buffer.from([0x7b, 0x22, 0x63, 0x6c, 0x61, 0x73, 0x73, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), reason: /not valid UTF-8 \(retried/ },
];

for (const t of cases) {
  test(`an item that is ${t.name}, retried twice the way resque-web does, fails as malformed with its reason each time`, async () => {
    await c.send("RPUSH", [`${ns}queue:m`, t.item as unknown as string]);
    await drain();
    const first = (await c.lindex(`${ns}failed`, 0)) as string;
    const firstEntry = JSON.parse(first) as Entry;
    expect(firstEntry.exception).toBe("MalformedPayloadError");
    expect(firstEntry.payload.class).toBe("Bunworker::MalformedPayload");
    for (let round = 1; round <= 2; round++) {
      const pushed = rubyRequeue((await c.lindex(`${ns}failed`, round - 1)) as string);
      await c.rpush(`${ns}queue:m`, pushed);
      await drain();
      const entry = JSON.parse((await c.lindex(`${ns}failed`, round)) as string) as Entry;
      expect(entry.exception).toBe("MalformedPayloadError");
      expect(entry.error).toMatch(t.reason);
      // The same retryable job, not one wrapped inside another: the item itself is kept.
      expect(entry.payload).toEqual(firstEntry.payload);
      expect(entry.queue).toBe("m");
    }
    expect(await c.get(`${ns}stat:failed`)).toBe("3");
    expect(await c.llen(`${ns}queue:m`)).toBe(0);
  });
}

test("a registered Bunworker::MalformedPayload class would still win (the built-in is a fallback)", async () => {
  let got: unknown[] = [];
  await c.rpush(`${ns}queue:m`, '{"class":"Bunworker::MalformedPayload","args":["x"]}');
  const w = startWorker(registryWith({ "Bunworker::MalformedPayload": (_q: string, ...args: never[]) => void (got = args) }), { namespace: ns, queues: ["m"], exitOnComplete: true });
  await w.done;
  expect(got).toEqual(["x"]);
});

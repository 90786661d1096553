// The producer process of the bench scenario "enqueue": connects (init), then writes <n> jobs to queue "bulk"
// with enqueueMany, and prints one JSON line: {"jobs","ms"} from the call to its resolution. Encoding every
// payload is part of the time. Not a test.
import { close, enqueueMany, init, setSettings } from "../../src/index";

const [uri, count] = process.argv.slice(2);
const n = Number(count);
setSettings({ uri: uri as string });
await init();
const payloads = Array.from({ length: n }, (_, i) => ({ class: "Noop", args: [i] }));
const t0 = performance.now();
const written = await enqueueMany("bulk", payloads);
const ms = performance.now() - t0;
process.stdout.write(`${JSON.stringify({ jobs: written, ms })}\n`);
await close();

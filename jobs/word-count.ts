// A job that shares a resource across calls through a closure (goworker's README pattern): one counter map for
// every run in this process, and the shared Redis client for results, and that can be cancelled.
import { redis, register, namespace, type JobContext } from "../src/index";

function wordCounter() {
  let runs = 0;
  return async function (this: JobContext, _queue: string, text: string) {
    if (typeof text !== "string") throw new TypeError(`WordCount needs a string, got ${typeof text}`);
    this.signal.throwIfAborted();
    runs++;
    const words = text.split(/\s+/).filter(Boolean).length;
    await redis().hset(`${namespace()}demo:word-counts`, text.slice(0, 40), String(words));
    console.log(`counted ${words} word(s) (run ${runs} in this process)`);
  };
}

register("WordCount", wordCounter());

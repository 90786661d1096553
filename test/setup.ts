// Preloaded by bun test (bunfig.toml): child processes and private redis-servers need more than 5 s.
import { afterEach, setDefaultTimeout } from "bun:test";
import { children } from "./helpers/worker-process";

setDefaultTimeout(30_000);

afterEach(() => {
  for (const child of children) child.kill("SIGKILL");
});

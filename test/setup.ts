// Preloaded by bun test (bunfig.toml): child processes and private redis-servers need more than 5 s.
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(30_000);

// The public API (src/index.ts) pointed at a namespace of its own for the whole calling file.
import { afterAll, beforeAll } from "bun:test";
import type { RedisClient } from "bun";
import * as api from "../../src/index";
import { client, dropNamespace, freshNamespace, REDIS_URL } from "./redis";

/**
 * Before the file's tests: a client for `use` and api.setSettings on a fresh namespace; after them: api.close(),
 * the namespace dropped and the client closed. Returns the namespace.
 */
export function isolateApi(use: (c: RedisClient) => void): string {
  let c: RedisClient;
  const ns = freshNamespace();
  beforeAll(() => {
    c = client();
    use(c);
    api.setSettings({ uri: REDIS_URL, namespace: ns });
  });
  afterAll(async () => {
    await api.close();
    await dropNamespace(c, ns);
    c.close();
  });
  return ns;
}

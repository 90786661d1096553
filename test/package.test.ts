// Issue #16, point 7: another Bun project installs the packed tarball (`npm pack`, then `bun add --prefer-offline
// ./bunworker-x.tgz`: its dependencies come from Bun's cache, or from the registry where the cache holds no
// manifests, as on a fresh CI machine), type-checks `import { defineJob, work } from "bunworker"` with tsc
// (a line marked ts-expect-error proves the types are the real ones, not `any`), and runs a job from it against
// real Redis. `npm pack --dry-run` lists only what a user needs.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { client, dropNamespace, freshNamespace, REDIS_URL } from "./helpers/redis";
import { spawnWorker } from "./helpers/worker-process";

const ROOT = new URL("..", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "bunworker-pack-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(cmd: string[], cwd: string): { code: number; out: string } {
  const r = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.exitCode, out: `${r.stdout.toString()}${r.stderr.toString()}` };
}

test("npm pack --dry-run lists the runtime (src/ with its commands, dashboard and Lua scripts, worker.ts), README and package.json only", () => {
  const r = run(["npm", "pack", "--dry-run", "--json"], ROOT);
  expect(r.code).toBe(0);
  const [info] = JSON.parse(r.out.slice(r.out.indexOf("["))) as { files: { path: string }[] }[];
  const files = (info?.files ?? []).map((f) => f.path).sort();
  expect(files).toContain("src/index.ts");
  expect(files).toContain("src/lua/lane-cycle-6.lua");
  expect(files).toContain("worker.ts");
  const outside = files.filter((f) => !/^src\/((commands|web)\/)?[\w-]+(\.d)?\.ts$|^src\/lua\/[\w-]+\.lua$|^(worker\.ts|README\.md|package\.json)$/.test(f));
  expect(outside).toEqual([]);
  for (const f of files) expect(f).not.toMatch(/^(test|jobs|\.ci)\/|demo|private-redis|build\.ts|tsconfig|bunfig|bun\.lock/);
});

test("a project that installs the tarball type-checks against it and runs one of its jobs", async () => {
  const packed = run(["npm", "pack", "--pack-destination", dir], ROOT);
  expect(packed.code).toBe(0);
  const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz")) as string;
  expect(tarball).toMatch(/^bunworker-\d+\.\d+\.\d+\.tgz$/);
  const app = join(dir, "app");
  run(["mkdir", "-p", app], dir);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  const added = run([process.execPath, "add", "--prefer-offline", `../${tarball}`], app);
  expect(added).toMatchObject({ code: 0 });
  writeFileSync(
    join(app, "worker.ts"),
    `import { defineJob, namespace, redis, setSettings, work } from "bunworker";
const Hello = defineJob("PkgHello", { queue: "pkg" }, async (ctx, name: string, n: number) => {
  await redis().rpush(\`\${namespace()}pkg:ran\`, \`\${ctx.className} \${ctx.queue} \${name} \${n}\`);
});
// @ts-expect-error the installed package's types check the job's arguments
if (process.env.NEVER) void Hello.enqueue(1, "x");
if (process.env.ENQUEUE_NS) {
  setSettings({ uri: process.env.REDIS_URL, namespace: process.env.ENQUEUE_NS });
  await Hello.enqueue("from-the-package", 42);
  process.exit(0);
}
await work();
process.exit(0);
`,
  );
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { lib: ["ESNext"], target: "ESNext", module: "Preserve", moduleResolution: "bundler", noEmit: true, strict: true, skipLibCheck: true, typeRoots: [join(ROOT, "node_modules/@types")], types: ["bun"] },
      include: ["worker.ts"],
    }),
  );
  const tsc = run([join(ROOT, "node_modules/.bin/tsc"), "-p", "."], app);
  expect(tsc).toEqual({ code: 0, out: "" });

  const c = client();
  const ns = freshNamespace();
  try {
    const flags = [`--uri=${REDIS_URL}`, `--namespace=${ns}`];
    const producer = spawnWorker([], { cmd: [process.execPath, "worker.ts"], cwd: app, env: { ENQUEUE_NS: ns, REDIS_URL } });
    expect(await producer.exited).toBe(0);
    expect(await c.lrange(`${ns}queue:pkg`, 0, -1)).toEqual(['{"class":"PkgHello","args":["from-the-package",42]}']);
    const w = spawnWorker([...flags, "--queues=pkg", "--exit-on-complete"], { cmd: [process.execPath, "worker.ts"], cwd: app });
    expect(await w.exited).toBe(0);
    expect(await c.lrange(`${ns}pkg:ran`, 0, -1)).toEqual(["PkgHello pkg from-the-package 42"]);
    // the package's `bunworker` command runs the project's jobs folder, named by BUNWORKER_JOBS_DIR
    const bin = join(app, "node_modules/.bin/bunworker");
    const told = spawnWorker([...flags, "--queues=pkg", "--exit-on-complete"], { cmd: [bin], cwd: app });
    expect(await told.exited).toBe(1);
    expect(told.output()).toMatch(/^bunworker: no jobs folder at .*: set BUNWORKER_JOBS_DIR/m);
    run(["mkdir", "-p", join(app, "jobs")], app);
    writeFileSync(join(app, "jobs/hello.ts"), `import { defineJob, namespace, redis } from "bunworker";
defineJob("PkgBin", { queue: "pkg" }, async (_ctx, n: number) => void (await redis().rpush(\`\${namespace()}pkg:ran\`, \`bin \${n}\`)));
`);
    await c.rpush(`${ns}queue:pkg`, '{"class":"PkgBin","args":[7]}');
    const viaBin = spawnWorker([...flags, "--queues=pkg", "--exit-on-complete"], { cmd: [bin], cwd: app, env: { BUNWORKER_JOBS_DIR: "./jobs" } });
    expect(await viaBin.exited).toBe(0);
    expect(await c.lrange(`${ns}pkg:ran`, 0, -1)).toEqual(["PkgHello pkg from-the-package 42", "bin 7"]);
  } finally {
    await dropNamespace(c, ns);
    c.close();
  }
});

#!/usr/bin/env bun
// Issue #3, one executable: `bun run build [--target=bun-linux-arm64] [--jobs=dir] [--outfile=path]` compiles
// worker.ts, the runtime and every job module into dist/bunworker (dist/bunworker-<target> when cross-compiling).
// The job list is fixed at build time: a plugin swaps src/job-loader.ts for a module that imports the jobs
// statically, so the binary never loads job code from disk, whatever its working directory holds.
import type { BunPlugin } from "bun";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { discoverJobFiles } from "./src/job-loader";

type CompileTarget = Bun.Build.CompileTarget;

const ROOT = import.meta.dir;
const JOB_LOADER = resolve(ROOT, "src/job-loader.ts");
const USAGE = "usage: bun run build [--target=bun-linux-x64|bun-linux-arm64|bun-linux-x64-musl|bun-linux-arm64-musl|...] [--jobs=dir] [--outfile=path]";

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** A failure the user can fix; main() prints its message and exits with `code`. */
class BuildFailure extends Error {
  constructor(message: string, readonly code: 1 | 2 = 1) {
    super(message);
  }
}

interface BuildOptions {
  target: CompileTarget | undefined;
  jobsDir: string;
  outfile: string;
}

function parseOptions(argv: string[], cwd = process.cwd()): BuildOptions {
  let values: { target?: string; jobs?: string; outfile?: string };
  try {
    ({ values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options: {
      target: { type: "string" }, jobs: { type: "string" }, outfile: { type: "string" },
    } }));
  } catch (e) {
    throw new BuildFailure(`${(e as Error).message}\n${USAGE}`, 2);
  }
  if (values.target !== undefined && !/^bun-[a-z0-9]+-[a-z0-9]+(-[a-z0-9]+)*$/.test(values.target)) {
    throw new BuildFailure(`--target must be a bun target such as bun-linux-arm64, got "${values.target}"\n${USAGE}`, 2);
  }
  const target = values.target as CompileTarget | undefined;
  const name = target ? `bunworker-${target.slice("bun-".length)}` : "bunworker";
  return {
    target,
    jobsDir: values.jobs !== undefined ? resolve(cwd, values.jobs) : resolve(ROOT, "jobs"),
    outfile: values.outfile !== undefined ? resolve(cwd, values.outfile) : resolve(ROOT, "dist", name),
  };
}

/** `git rev-parse --short HEAD`, plus "-dirty" when tracked or untracked (not ignored) files differ from it. */
function buildCommit(): string {
  const git = (...args: string[]) => Bun.spawnSync(["git", ...args], { cwd: ROOT, stdout: "pipe", stderr: "ignore" });
  const head = git("rev-parse", "--short", "HEAD");
  // A source tarball has no .git: the binary still builds, it just cannot say which commit it is.
  if (head.exitCode !== 0) return "unknown";
  const dirty = git("status", "--porcelain").stdout.toString().trim() !== "";
  return head.stdout.toString().trim() + (dirty ? "-dirty" : "");
}

function jobFiles(jobsDir: string): string[] {
  if (!existsSync(jobsDir) || !statSync(jobsDir).isDirectory()) throw new BuildFailure(`no jobs directory at ${jobsDir}`);
  const files = discoverJobFiles(jobsDir);
  if (files.length === 0) throw new BuildFailure(`no job modules (*.ts) in ${jobsDir}: the binary would run no job`);
  return files;
}

/** Bun's import() reports a syntax error without its file; the transpiler tells us which module and where. */
function syntaxErrors(files: string[]): string[] {
  const transpiler = new Bun.Transpiler({ loader: "ts" });
  const found: string[] = [];
  for (const file of files) {
    try {
      transpiler.transformSync(readFileSync(file, "utf8"));
    } catch (e) {
      const pos = (e as { position?: { line?: number; column?: number } }).position;
      found.push(`${file}${pos?.line ? `:${pos.line}:${pos.column ?? 0}` : ""}: ${(e as Error).message}`);
    }
  }
  return found;
}

/**
 * Loads the jobs the way `bun worker.ts` does, in a child, and returns the registered classes. This is where
 * a module that does not compile, throws at load, or registers a class another module registered (register()
 * throws DuplicateJobError) stops the build: bundling alone would accept all three.
 */
function validateJobs(jobsDir: string, files: string[]): string[] {
  const child = Bun.spawnSync([process.execPath, resolve(ROOT, "worker.ts"), "--list-jobs"], {
    cwd: ROOT,
    env: { ...process.env, BUNWORKER_JOBS_DIR: jobsDir, NO_COLOR: "1" },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  if (child.exitCode === 0) return child.stdout.toString().split("\n").filter(Boolean);
  const stderr = child.stderr.toString().trim().split("\n").filter(Boolean);
  const line = stderr.find((l) => l.startsWith("bunworker:")) ?? stderr.at(-1) ?? `exit status ${child.exitCode ?? child.signalCode}`;
  const where = [...syntaxErrors(files), ...registering(files, line)];
  throw new BuildFailure(`the job modules in ${jobsDir} do not load (bun worker.ts --list-jobs): ${line}${where.map((w) => `\n  ${w}`).join("")}`);
}

/** For a DuplicateJobError, the modules whose source names the class: the likely pair to look at. */
function registering(files: string[], error: string): string[] {
  const cls = /job class "(.+)" is registered twice/.exec(error)?.[1];
  if (!cls) return [];
  const literal = new RegExp(`["'\`]${escapeRegExp(cls)}["'\`]`);
  return files.filter((f) => literal.test(readFileSync(f, "utf8"))).map((f) => `${f} names "${cls}"`);
}

/** What the binary runs instead of src/job-loader.ts: the jobs imported statically, in discovery order. */
function bundledJobLoader(files: string[]): string {
  return [
    "// Generated by build.ts: the jobs discovered at build time, bundled; nothing is read from disk at run time.",
    ...files.map((f) => `import ${JSON.stringify(f)};`),
    `export const discoverJobFiles = (_dir?: string): string[] => ${JSON.stringify(files)};`,
    "export const loadJobs = async (_dir?: string): Promise<void> => {};",
    "",
  ].join("\n");
}

function jobsPlugin(files: string[]): BunPlugin {
  return {
    name: "bunworker-jobs",
    setup(build) {
      build.onLoad({ filter: new RegExp(`^${escapeRegExp(JOB_LOADER)}$`) }, () => ({ contents: bundledJobLoader(files), loader: "ts" }));
    },
  };
}

function bundleOptions(files: string[], commit: string) {
  return {
    entrypoints: [resolve(ROOT, "worker.ts")],
    plugins: [jobsPlugin(files)],
    target: "bun" as const,
    format: "esm" as const,
    // Identifiers stay: a failure's `exception` is the thrown error's constructor.name.
    minify: { whitespace: true, syntax: true, identifiers: false },
    define: { BUILD_COMMIT: JSON.stringify(commit) },
    throw: false,
  };
}

const topLevelClass = /^(?:export\s+(?:default\s+)?)?(?:class\s+([A-Za-z_$][\w$]*)|(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*class\b)/gm;

/**
 * Bun's bundler hoists every module into one scope and renames a top-level class whose name another module
 * also uses (Declined -> Declined2), and keepNames does not undo it in 1.4.4. That would silently change the
 * `exception` of failures, so a job class or a runtime error class that got renamed fails the build. The
 * runtime's other classes (Registry, Runner, ...) are never thrown, and a dependency may use the same names
 * (prom-client's Registry), so only its `class X extends ...Error` count.
 */
function renamedClasses(bundle: string, sources: string[], runtime: string[] = []): string[] {
  const declared = new Map<string, string>();
  for (const file of [...sources, ...runtime]) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(topLevelClass)) {
      const head = text.slice(m.index, text.indexOf("{", m.index));
      if (runtime.includes(file) && !/\bextends\s+[\w$.]*Error\b/.test(head)) continue;
      const name = m[1] ?? m[2];
      if (name) declared.set(name, declared.has(name) ? `${declared.get(name)}, ${file}` : file);
    }
  }
  const problems: string[] = [];
  for (const [name, where] of declared) {
    const renamed = new RegExp(`\\bclass (${escapeRegExp(name)}\\d+)(?![\\w$])`).exec(bundle)?.[1];
    if (renamed && !declared.has(renamed)) problems.push(`class ${name} (${where}) is bundled as ${renamed}: another module declares ${name} at top level; rename one`);
  }
  return problems;
}

/** One log stays on the message's line (a failed runtime download is one line); several go below it, indented. */
function logsText(logs: readonly { message: string; position?: { file: string; line: number; column: number } | null }[]): string {
  const lines = logs.map((l) => (l.position ? `${l.position.file}:${l.position.line}:${l.position.column}: ${l.message}` : l.message));
  return lines.length === 1 ? ` ${lines[0]}` : lines.map((l) => `\n  ${l}`).join("");
}

async function checkClassNames(files: string[], commit: string): Promise<void> {
  const result = await Bun.build(bundleOptions(files, commit));
  if (!result.success) throw new BuildFailure(`bundling failed:${logsText(result.logs)}`);
  const bundle = (await Promise.all(result.outputs.map((o) => o.text()))).join("\n");
  const runtime = [...new Bun.Glob("src/**/*.ts").scanSync({ cwd: ROOT, absolute: true })];
  const problems = renamedClasses(bundle, files, runtime);
  if (problems.length) throw new BuildFailure(`exception class names would change in the binary:\n${problems.map((p) => `  ${p}`).join("\n")}`);
}

async function compile(opts: BuildOptions, files: string[], commit: string): Promise<void> {
  mkdirSync(dirname(opts.outfile), { recursive: true });
  let result: Bun.BuildOutput;
  try {
    result = await Bun.build({
      ...bundleOptions(files, commit),
      compile: {
        outfile: opts.outfile,
        ...(opts.target ? { target: opts.target } : {}),
        // The binary's behaviour must not depend on a bunfig.toml (preloads, ...) in whatever directory it runs in.
        autoloadBunfig: false,
      },
      // Embedded in the binary, so failure backtraces name jobs/x.ts:line instead of /$bunfs/root/bunworker:82.
      sourcemap: "linked",
      bytecode: true,
    });
  } catch (e) {
    throw new BuildFailure(`compiling failed${opts.target ? ` for ${opts.target}` : ""}: ${oneLine(e)}`);
  }
  if (!result.success) {
    const cross = opts.target ? ` for ${opts.target} (cross-compiling downloads that target's bun runtime)` : "";
    throw new BuildFailure(`compiling failed${cross}:${logsText(result.logs)}`);
  }
  if (!existsSync(opts.outfile)) throw new BuildFailure(`Bun.build reported success but wrote no ${opts.outfile}`);
  // The map is also written beside the binary; the binary does not need it, so dist/ holds only what ships.
  rmSync(`${opts.outfile}.map`, { force: true });
}

function oneLine(e: unknown): string {
  const errors = e instanceof AggregateError ? e.errors : [e];
  return errors.map((x) => (x instanceof Error ? x.message : String(x)).split("\n")[0]).join("; ");
}

const shown = (p: string) => {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith("..") ? r : p;
};

async function main(): Promise<number> {
  let opts: BuildOptions | undefined;
  try {
    opts = parseOptions(process.argv.slice(2));
    // A binary from an earlier build must not survive a failed one and be shipped by mistake.
    rmSync(opts.outfile, { force: true });
    const files = jobFiles(opts.jobsDir);
    const classes = validateJobs(opts.jobsDir, files);
    const commit = buildCommit();
    await checkClassNames(files, commit);
    await compile(opts, files, commit);
    const mb = statSync(opts.outfile).size / 1e6;
    const pkg = (await Bun.file(resolve(ROOT, "package.json")).json()) as { version: string };
    process.stdout.write(`built ${shown(opts.outfile)} (${mb.toFixed(1)} MB): bunworker ${pkg.version} (${commit})${opts.target ? ` for ${opts.target}` : ""}\n`);
    process.stdout.write(`job classes: ${classes.join(", ")}\n`);
    return 0;
  } catch (e) {
    if (opts) rmSync(opts.outfile, { force: true });
    if (!(e instanceof BuildFailure)) throw e;
    process.stderr.write(`build: ${e.message}\n`);
    return e.code;
  }
}

process.exit(await main());

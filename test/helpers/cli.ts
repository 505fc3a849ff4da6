/** Run the real `moonexec` CLI (built into dist/) on a Lua script, capturing bytes. */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

export const ROOT = resolve(import.meta.dirname, "../..");
export const BIN = join(ROOT, "bin/moonexec.js");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export function runCli(args: string[], opts: { cwd?: string; stdin?: string; env?: NodeJS.ProcessEnv; onSpawn?: (pid: number) => void } = {}): Promise<CliResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    if (child.pid) opts.onSpawn?.(child.pid);
    child.stdin.on("error", () => {}); // EPIPE when the CLI exits without reading stdin
    child.stdin.end(opts.stdin ?? "");
    child.on("close", (code, signal) => resolveRun({ code, signal, stdout: Buffer.concat(out), stderr: err }));
  });
}

/** Write `files` (name → content) into a fresh temp dir; returns its path. */
export function tempDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "moonexec-test-"));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

/** Run a Lua script (and optional moonexec.yaml) through the CLI in a temp dir. */
export async function runLua(script: string, opts: { config?: string; args?: string[]; cliArgs?: string[]; files?: Record<string, string> } = {}): Promise<CliResult> {
  const files: Record<string, string> = { "main.lua": script, ...opts.files };
  if (opts.config !== undefined) files["moonexec.yaml"] = opts.config;
  const dir = tempDir(files);
  return runCli(["run", ...(opts.cliArgs ?? []), "main.lua", ...(opts.args ?? [])], { cwd: dir });
}

/** A CLI run in the background: wait for a line of its output, then signal it. */
export interface LiveCli {
  child: ReturnType<typeof spawn>;
  /** Resolves once stdout contains `text`. */
  waitFor(text: string): Promise<void>;
  stdout(): string;
  stderr(): string;
  /** Exit code, or the signal name when killed by one. */
  exited: Promise<number | string | null>;
}

export function startCli(args: string[], opts: { cwd: string }): LiveCli {
  return startNode([BIN, ...args], opts.cwd);
}

/** A library host in its own process: an app that creates a Host from dir's moonexec.yaml and runs `script`. */
export function startLibraryHost(dir: string, script = "s.lua"): LiveCli {
  const app = join(dir, "app.mjs");
  writeFileSync(
    app,
    `import { Host } from ${JSON.stringify(pathToFileURL(join(ROOT, "dist/index.js")).href)};\n` +
      `const host = await Host.create({ config: "moonexec.yaml" });\nawait host.runFile(${JSON.stringify(script)});\n`,
  );
  return startNode([app], dir);
}

function startNode(argv: string[], cwd: string): LiveCli {
  const child = spawn(process.execPath, argv, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  child.stdout.on("data", (d: Buffer) => {
    out += d;
    for (const w of waiters.filter((w) => out.includes(w.text))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  child.stderr.on("data", (d: Buffer) => (err += d));
  const exited = new Promise<number | string | null>((resolve) => child.on("close", (code, signal) => resolve(code ?? signal)));
  return {
    child,
    waitFor: (text) => (out.includes(text) ? Promise.resolve() : new Promise((resolve) => waiters.push({ text, resolve }))),
    stdout: () => out,
    stderr: () => err,
    exited,
  };
}

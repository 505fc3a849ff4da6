/** The `moonexec` command: parse the command line and dispatch to a subcommand. */
import { closeSync, openSync, readFileSync, statSync } from "node:fs";
import { envEngine, parseArgs, UsageError, USAGE, type CliOptions } from "./args.js";
import { engineVersions } from "../lua/engine/versions.js";
import { warmLua } from "../lua/engine/wasmoon.js";

async function main(argv: string[]): Promise<number> {
  let opts: CliOptions;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`moonexec: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
  switch (opts.command) {
    case "help":
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case "version": {
      const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
      let selected;
      try {
        selected = envEngine();
      } catch {} // --version still answers with a bad MOONEXEC_ENGINE (run and repl refuse it)
      process.stdout.write(`moonexec ${pkg.version} (${engineVersions(selected)})\n`);
      return 0;
    }
    // Subcommands load on demand: `run` starts without the REPL's or check's code.
    case "run": {
      // A script that cannot be read is a usage error, as a bad flag is: exit 2, nothing started.
      const problem = unreadable(opts.script!);
      if (problem) {
        process.stderr.write(`moonexec: run: ${problem}\n`);
        return 2;
      }
      if (opts.engine === "wasmoon") warmLua(); // compiles in the background while the rest of the CLI loads
      return (await import("./run.js")).runCommand(opts);
    }
    case "repl":
      if (opts.engine === "wasmoon") warmLua();
      return (await import("./repl.js")).replCommand(opts);
    case "check":
      return (await import("./check.js")).checkCommand(opts);
  }
}

/** Why `path` cannot be run as a script, or undefined when it can be read. */
function unreadable(path: string): string | undefined {
  try {
    if (statSync(path).isDirectory()) return `cannot open ${path}: it is a directory`;
    closeSync(openSync(path, "r"));
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (e as Error).message;
    return `cannot open ${path}: ${why}`;
  }
}

// No top-level await: the CLI ships as a CommonJS bundle (scripts/bundle.mjs).
void main(process.argv.slice(2)).then((code) => {
  // Flush stdout before exiting: large script output may still be queued. The exit code is
  // set first: a Ctrl-C that stopped a host call mid-write can leave the stream's callback
  // never to come, and then the process ends when the loop empties, with this code.
  process.exitCode = code;
  process.stdout.write("", () => process.exit(code));
});

/** The `moonexec` command: parse the command line and dispatch to a subcommand. */
import { readFileSync } from "node:fs";
import { parseArgs, UsageError, USAGE, type CliOptions } from "./args.js";

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
      process.stdout.write(`moonexec ${pkg.version}\n`);
      return 0;
    }
    // Subcommands load on demand: `run` starts without the REPL's or check's code.
    case "run":
      return (await import("./run.js")).runCommand(opts);
    case "repl":
      return (await import("./repl.js")).replCommand(opts);
    case "check":
      return (await import("./check.js")).checkCommand(opts);
  }
}

// No top-level await: the CLI ships as a CommonJS bundle (scripts/bundle.mjs).
void main(process.argv.slice(2)).then((code) => {
  // Flush stdout before exiting: large script output may still be queued.
  process.stdout.write("", () => process.exit(code));
});

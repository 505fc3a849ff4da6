/** Create the Host for `run` and `repl` from the command line's options. */
import { ConfigError } from "../errors.js";
import { Host, type HostOptions } from "../lua/host.js";
import type { CliOptions } from "./args.js";
import { auditWriter } from "./verbose.js";

/** The host, or an exit code after a config error has been reported. */
export async function openHost(opts: CliOptions, extra: Partial<HostOptions> = {}): Promise<Host | number> {
  try {
    return await Host.create({
      config: opts.config,
      timeLimit: opts.timeLimit,
      memoryLimit: opts.memoryLimit,
      engine: opts.engine,
      modulePaths: opts.modulePaths,
      audit: opts.verbose ? auditWriter(process.stderr) : undefined,
      ...extra,
    });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`moonexec: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

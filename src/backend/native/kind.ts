/** kind: exec.native — commands run as local processes. */
import { existsSync, statSync } from "node:fs";
import { ConfigError } from "../../errors.js";
import type { Entry } from "../../config/entry.js";
import type { BackendKind, ExecutorBackend } from "../contract.js";
import { startNative } from "./native-command.js";
import { executorOpened, executorReleased } from "./stdout-route.js";
import { CommandGroups } from "./groups.js";
import { ensureWatchdog } from "./watchdog.js";

let execaModule: Promise<typeof import("execa")> | undefined;

export const nativeKind: BackendKind<Entry> = {
  kind: "exec.native",
  fields: {},
  validate(entry, where) {
    const dir = entry.default_work_dir;
    if (dir !== undefined && !dir.startsWith("/")) throw new ConfigError(`${where}: field 'default_work_dir' must be an absolute path, got "${dir}"`);
  },
  async open(): Promise<ExecutorBackend> {
    const { execa } = await (execaModule ??= import("execa")); // on first use: execa costs start-up time
    executorOpened();
    ensureWatchdog();
    const groups = new CommandGroups();
    let released = false;
    return {
      terminals: true,
      spawn: (spec) => startNative(execa, spec, groups),
      release: async () => {
        if (released) return;
        released = true;
        groups.killAll(); // groups whose leader exited (the executor's running commands are disposed first)
        await executorReleased();
      },
    };
  },
  async probe(entry) {
    const dir = entry.default_work_dir;
    if (dir !== undefined && !(existsSync(dir) && statSync(dir).isDirectory())) {
      return { ok: false, lines: [`default_work_dir ${dir} does not exist`] };
    }
    return { ok: true, lines: ["local processes"] };
  },
};

/** kind: exec.native — commands run as local processes. */
import { existsSync, statSync } from "node:fs";
import { ConfigError } from "../../errors.js";
import type { Entry } from "../../config/entry.js";
import type { BackendKind } from "../contract.js";

// The backend loads on first use: execa, child_process and net cost start-up time that a
// script running no command should not pay.
export const nativeKind: BackendKind<Entry> = {
  kind: "exec.native",
  fields: {},
  validate(entry, where) {
    const dir = entry.default_work_dir;
    if (dir !== undefined && !dir.startsWith("/")) throw new ConfigError(`${where}: field 'default_work_dir' must be an absolute path, got "${dir}"`);
  },
  open: async () => (await import("./open.js")).openNative(),
  async probe(entry) {
    const dir = entry.default_work_dir;
    if (dir !== undefined && !(existsSync(dir) && statSync(dir).isDirectory())) {
      return { ok: false, lines: [`default_work_dir ${dir} does not exist`] };
    }
    return { ok: true, lines: ["local processes"] };
  },
};

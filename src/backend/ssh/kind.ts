/** kind: exec.ssh — commands run on a server over SSH (see docs/ssh.md). */
import type { BackendKind } from "../contract.js";
import { SSH_FIELDS, validateSshEntry, type SshEntry } from "./entry.js";

// ssh2 loads on first use: scripts without an SSH executor skip importing it.
export const sshKind: BackendKind<SshEntry> = {
  kind: "exec.ssh",
  fields: SSH_FIELDS,
  hostField: "host",
  validate: validateSshEntry,
  open: async (entry) => (await import("./open.js")).openSsh(entry),
  probe: async (entry) => (await import("./open.js")).probeSsh(entry),
};

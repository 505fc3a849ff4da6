/** kind: exec.incus — commands run in an Incus instance through the Incus REST API. */
import type { BackendKind } from "../contract.js";
import { INCUS_FIELDS, validateIncusEntry, type IncusEntry } from "./entry.js";

// The client loads on first use: scripts without an Incus executor skip importing it.
export const incusKind: BackendKind<IncusEntry> = {
  kind: "exec.incus",
  fields: INCUS_FIELDS,
  hostField: "instance",
  validate: validateIncusEntry,
  open: async (entry) => (await import("./open.js")).openIncus(entry),
  probe: async (entry) => (await import("./open.js")).probeIncus(entry),
};

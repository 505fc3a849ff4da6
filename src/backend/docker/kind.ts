/** kind: exec.docker — commands run in one container per executor (see docs/docker.md). */
import type { BackendKind } from "../contract.js";
import { DOCKER_FIELDS, validateDockerEntry, type DockerEntry } from "./entry.js";

// The backend loads on first use: importing dockerode costs start-up time that scripts
// without a Docker executor should not pay.
export const dockerKind: BackendKind<DockerEntry> = {
  kind: "exec.docker",
  fields: DOCKER_FIELDS,
  hostField: "host",
  validate: validateDockerEntry,
  open: async (entry) => (await import("./open.js")).openDocker(entry),
  probe: async (entry) => (await import("./open.js")).probeDocker(entry),
};

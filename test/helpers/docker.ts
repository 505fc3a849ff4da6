/**
 * The Docker backend under test: the local daemon (scripts/docker-setup.sh starts it) and
 * the offline image it builds. Also helpers for Docker-specific tests.
 */
import Dockerode from "dockerode";
import { registerBackend, type BackendUnderTest } from "./backends.js";

export const TEST_IMAGE = process.env.MOONEXEC_TEST_IMAGE ?? "moonexec-test:busybox";

export const docker = new Dockerode({ socketPath: "/var/run/docker.sock" });

let reason: Promise<string | undefined> | undefined;

/** undefined when the daemon answers and the test image is there, else why not. */
export function dockerUnavailable(): Promise<string | undefined> {
  reason ??= (async () => {
    try {
      await docker.ping();
    } catch (e) {
      return `docker daemon not reachable at /var/run/docker.sock (${(e as Error).message}); run scripts/docker-setup.sh`;
    }
    try {
      await docker.getImage(TEST_IMAGE).inspect();
    } catch {
      return `image ${TEST_IMAGE} missing; run scripts/docker-setup.sh`;
    }
    return undefined;
  })();
  return reason;
}

export const dockerBackend: BackendUnderTest = {
  name: "docker",
  entryYaml: `name: box\nkind: exec.docker\nimage: ${TEST_IMAGE}`,
  unavailable: dockerUnavailable,
};

registerBackend(dockerBackend);

/** Containers labelled moonexec=1 (running or not), optionally only one executor's. */
export async function moonexecContainers(executorId?: string): Promise<Dockerode.ContainerInfo[]> {
  const label = executorId ? [`moonexec.executor=${executorId}`] : ["moonexec=1"];
  return docker.listContainers({ all: true, filters: JSON.stringify({ label }) });
}

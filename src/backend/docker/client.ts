/** A dockerode client for a parsed docker host. */
import Dockerode from "dockerode";
import type { DockerHost } from "./host-url.js";

export function connect(host: DockerHost): Dockerode {
  // No request timeout: it would also cut idle hijacked agent connections.
  return new Dockerode({ ...host.options, connectionTimeout: 10_000 } as Dockerode.DockerOptions);
}

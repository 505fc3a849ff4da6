/** A dockerode client for a parsed docker host. */
import Dockerode from "dockerode";
import type { DockerHost } from "./host-url.js";

export function connect(host: DockerHost, longestCallMs: number): Dockerode {
  // No request timeout: it would also cut idle hijacked agent connections. Each call has its
  // own deadline (request-timeout.ts), which answers first with what did not answer; this one
  // is the backstop for calls made without.
  return new Dockerode({ ...host.options, connectionTimeout: longestCallMs + 1000 } as Dockerode.DockerOptions);
}

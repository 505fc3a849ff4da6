/** A dockerode client for a parsed docker host (unix socket, tcp with or without TLS, ssh). */
import Dockerode from "dockerode";
import type { DockerHost } from "./host-url.js";
import type { TlsMaterial } from "./tls.js";
import type { SshDockerTransport } from "./ssh-transport.js";

export interface Transport {
  tls?: TlsMaterial;
  ssh?: SshDockerTransport;
}

export function connect(host: DockerHost, longestCallMs: number, transport: Transport = {}): Dockerode {
  // No request timeout: it would also cut idle hijacked agent connections. Each call has its
  // own deadline (request-timeout.ts), which answers first with what did not answer; this one
  // is the backstop for calls made without.
  const common = { connectionTimeout: longestCallMs + 1000 };
  if (host.kind === "ssh") {
    // Plain HTTP over the transport's channels (the host name only fills the Host header).
    return new Dockerode({ ...common, host: "docker", port: 80, protocol: "http", agent: transport.ssh!.agent } as Dockerode.DockerOptions);
  }
  const tls = transport.tls;
  if (host.kind === "tcp" && tls) {
    return new Dockerode({ ...host.options, ...common, protocol: "https", ca: tls.ca, cert: tls.cert, key: tls.key } as Dockerode.DockerOptions);
  }
  return new Dockerode({ ...host.options, ...common } as Dockerode.DockerOptions);
}

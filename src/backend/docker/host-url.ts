/** The entry's `host`: unix:///path/to/docker.sock or tcp://HOST:PORT (no dockerode import: config validation uses it). */
import type Dockerode from "dockerode";

export const DEFAULT_HOST = "unix:///var/run/docker.sock";

export interface DockerHost {
  /** The URL as configured (or defaulted), for messages. */
  url: string;
  options: Dockerode.DockerOptions;
}

/** Parse a host URL; returns an error text instead of throwing (config validation uses it). */
export function parseHost(url: string): DockerHost | string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `must be a URL like unix:///var/run/docker.sock or tcp://127.0.0.1:2375, got "${url}"`;
  }
  if (u.protocol === "unix:") {
    const path = decodeURIComponent(u.pathname);
    if (u.host !== "" || !path.startsWith("/") || path === "/") return `unix:// URL must name an absolute socket path (unix:///var/run/docker.sock), got "${url}"`;
    return { url, options: { socketPath: path } };
  }
  if (u.protocol === "tcp:" || u.protocol === "http:") {
    if (!u.hostname || !u.port) return `tcp:// URL must name a host and a port (tcp://127.0.0.1:2375), got "${url}"`;
    if (u.pathname !== "/" && u.pathname !== "") return `tcp:// URL must not have a path, got "${url}"`;
    const hostname = u.hostname.replace(/^\[(.*)\]$/, "$1");
    return { url, options: { host: hostname, port: Number(u.port), protocol: "http" } };
  }
  return `only unix:// and tcp:// docker hosts are supported, got "${url}"`;
}

/** The host an entry talks to: its `host` field, else $DOCKER_HOST, else the local socket. */
export function entryHost(host: string | undefined): string {
  return host ?? process.env.DOCKER_HOST ?? DEFAULT_HOST;
}

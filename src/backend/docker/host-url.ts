/**
 * The entry's `host`: unix:///path/to/docker.sock, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]
 * (no dockerode import: config validation uses it).
 */
import type Dockerode from "dockerode";

export const DEFAULT_HOST = "unix:///var/run/docker.sock";
/** ssh's own default port. */
export const DEFAULT_SSH_PORT = 22;

export type DockerHost =
  | { kind: "unix"; url: string; options: Dockerode.DockerOptions }
  | { kind: "tcp"; url: string; options: Dockerode.DockerOptions }
  | { kind: "ssh"; url: string; host: string; port: number; user?: string };

const EXAMPLES = "unix:///var/run/docker.sock, tcp://127.0.0.1:2376 or ssh://user@host";

/** Parse a host URL; returns an error text instead of throwing (config validation uses it). */
export function parseHost(url: string): DockerHost | string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `must be a URL like ${EXAMPLES}, got "${url}"`;
  }
  if (u.protocol === "unix:") {
    const path = decodeURIComponent(u.pathname);
    if (u.host !== "" || !path.startsWith("/") || path === "/") return `unix:// URL must name an absolute socket path (unix:///var/run/docker.sock), got "${url}"`;
    return { kind: "unix", url, options: { socketPath: path } };
  }
  const hostname = u.hostname.replace(/^\[(.*)\]$/, "$1");
  if (u.protocol === "tcp:" || u.protocol === "http:") {
    if (!u.hostname || !u.port) return `tcp:// URL must name a host and a port (tcp://127.0.0.1:2376), got "${url}"`;
    if (u.pathname !== "/" && u.pathname !== "") return `tcp:// URL must not have a path, got "${url}"`;
    if (u.username || u.password) return `tcp:// URL must not have a user (client certificates go in tls_cert and tls_key), got "${url}"`;
    return { kind: "tcp", url, options: { host: hostname, port: Number(u.port), protocol: "http" } };
  }
  if (u.protocol === "ssh:") {
    if (!u.hostname) return `ssh:// URL must name a host (ssh://user@host or ssh://user@host:2222), got "${url}"`;
    if (u.pathname !== "/" && u.pathname !== "") return `ssh:// URL must not have a path (the remote docker CLI finds its daemon), got "${url}"`;
    if (u.password) return `ssh:// URL must not contain a password (use identity_file or agent: true), got "${url}"`;
    const user = u.username ? decodeURIComponent(u.username) : undefined;
    return { kind: "ssh", url, host: hostname, port: u.port ? Number(u.port) : DEFAULT_SSH_PORT, user };
  }
  return `only unix://, tcp:// and ssh:// docker hosts are supported, got "${url}"`;
}

/** The host an entry talks to: its `host` field, else $DOCKER_HOST, else the local socket. */
export function entryHost(host: string | undefined): string {
  return host ?? process.env.DOCKER_HOST ?? DEFAULT_HOST;
}

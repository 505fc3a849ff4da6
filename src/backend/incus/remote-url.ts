/** The `remote` field and fingerprints, parsed without loading TLS (config validation uses these). */
export function parseRemote(remote: string | undefined): { kind: "unix"; socketPath?: string } | { kind: "https"; host: string; port: number } {
  if (remote === undefined || remote === "" || remote === "unix" || remote === "local") return { kind: "unix" };
  if (remote.startsWith("unix://")) return { kind: "unix", socketPath: remote.slice("unix://".length) };
  if (remote.startsWith("unix:")) return { kind: "unix", socketPath: remote.slice("unix:".length) };
  if (remote.startsWith("/")) return { kind: "unix", socketPath: remote };
  const url = new URL(remote); // throws on garbage; validate() reports it with the field name
  if (url.protocol !== "https:") throw new Error(`unsupported scheme ${url.protocol}`);
  if (url.pathname !== "/" && url.pathname !== "") throw new Error("no path allowed after host:port");
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return { kind: "https", host, port: url.port ? Number(url.port) : 8443 };
}

/** Normalise a sha256 fingerprint: lower-case hex without colons. */
export function normalizeFingerprint(fp: string): string {
  return fp.replace(/[:\s]/g, "").toLowerCase();
}

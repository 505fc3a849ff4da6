/**
 * Host key checking for exec.ssh: against an OpenSSH known_hosts file (plain and hashed
 * host names, [host]:port, wildcards and negation, @revoked) or against one pinned key.
 * The result says why a key is refused, so the connect error can name host and key.
 */
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { keyType, type HostKeyPin } from "./host-key-pin.js";

export type HostKeyCheck =
  | { kind: "known_hosts"; file: string }
  | { kind: "pin"; pin: HostKeyPin }
  | { kind: "any" };

/** OpenSSH's fingerprint of a key: "SHA256:" + unpadded base64. */
export function fingerprint(blob: Buffer): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/** The name known_hosts stores for host:port. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export type Verdict = { ok: true } | { ok: false; message: string };

/** Check the key a server presented; `label` names the host in messages ("user@host:port"). */
export function checkHostKey(check: HostKeyCheck, host: string, port: number, blob: Buffer, label: string): Verdict {
  const presented = `${keyType(blob) ?? "unknown-type"} ${fingerprint(blob)}`;
  if (check.kind === "any") return { ok: true };
  if (check.kind === "pin") {
    const pin = check.pin;
    const same = pin.kind === "key" ? pin.blob.equals(blob) : fingerprint(blob) === `SHA256:${pin.sha256}`;
    if (same) return { ok: true };
    return { ok: false, message: `host key of ${label} does not match the pinned host_key: the server presented ${presented}` };
  }
  let text: string;
  try {
    text = readFileSync(check.file, "utf8");
  } catch (e) {
    return { ok: false, message: `cannot check the host key of ${label}: known_hosts file ${check.file} unreadable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the server presented ${presented}` };
  }
  const name = knownHostsName(host, port);
  const type = keyType(blob);
  let sameType = false;
  let listed = false;
  for (const line of text.split("\n")) {
    const e = parseLine(line);
    if (!e || !hostMatches(e.hosts, name)) continue;
    if (e.marker === "@cert-authority") continue;
    const keyBlob = Buffer.from(e.key, "base64");
    if (e.marker === "@revoked") {
      if (keyBlob.equals(blob)) return { ok: false, message: `host key of ${label} (${presented}) is marked @revoked in ${check.file}` };
      continue;
    }
    listed = true;
    if (keyBlob.equals(blob)) return { ok: true };
    if (e.type === type) sameType = true;
  }
  if (sameType) {
    return {
      ok: false,
      message: `host key of ${label} has CHANGED: ${check.file} lists another ${type} key for ${name}; the server presented ${presented} (a new server, or someone in between). Remove the old line with 'ssh-keygen -R "${name}" -f ${check.file}' only if you know why it changed`,
    };
  }
  const hint = `'ssh-keyscan -p ${port} ${host} >> ${check.file}' after checking the fingerprint, or pin it with host_key`;
  if (listed) return { ok: false, message: `host key of ${label} is not known: ${check.file} lists ${name} with other key types only; the server presented ${presented}; add it with ${hint}` };
  return { ok: false, message: `host key of ${label} is unknown: ${name} is not in ${check.file}; the server presented ${presented}; add it with ${hint}` };
}

interface KnownHostsLine {
  marker?: string;
  hosts: string;
  type: string;
  key: string;
}

function parseLine(line: string): KnownHostsLine | undefined {
  const t = line.trim();
  if (t === "" || t.startsWith("#")) return undefined;
  const parts = t.split(/\s+/);
  const marker = parts[0]!.startsWith("@") ? parts.shift() : undefined;
  if (parts.length < 3) return undefined;
  return { marker, hosts: parts[0]!, type: parts[1]!, key: parts[2]! };
}

/** A comma list of patterns; a negated match wins; hashed entries are `|1|salt|hash`. */
function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith("|1|")) {
    const [, , salt, hash] = patterns.split("|");
    if (!salt || !hash) return false;
    const mac = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64");
    return mac === hash;
  }
  let hit = false;
  for (const raw of patterns.split(",")) {
    const negated = raw.startsWith("!");
    const p = negated ? raw.slice(1) : raw;
    if (!globMatch(p.toLowerCase(), name.toLowerCase())) continue;
    if (negated) return false;
    hit = true;
  }
  return hit;
}

function globMatch(pattern: string, s: string): boolean {
  const re = new RegExp("^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
  return re.test(s);
}

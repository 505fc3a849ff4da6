/**
 * A pinned host key as the config gives it (exec.ssh's `host_key`): parsed when the config is
 * read, without node:crypto, which only checking a key against a connection needs (host-key.ts).
 */

/** A pinned key: the full public key, or its SHA256 fingerprint. */
export type HostKeyPin = { kind: "key"; type: string; blob: Buffer } | { kind: "fingerprint"; sha256: string };

/** "ssh-ed25519 AAAA..." or "SHA256:base64". Throws a message for a field error. */
export function parseHostKeyPin(text: string): HostKeyPin {
  const t = text.trim();
  const fp = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(t);
  if (fp) return { kind: "fingerprint", sha256: fp[1]! };
  const m = /^(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s.*)?$/.exec(t);
  if (m) {
    const blob = Buffer.from(m[2]!, "base64");
    if (keyType(blob) === m[1]) return { kind: "key", type: m[1]!, blob };
  }
  throw new Error(`must be a public key ("ssh-ed25519 AAAA...", as in a .pub file or known_hosts) or a fingerprint ("SHA256:..." as ssh-keygen -lf prints), got "${text}"`);
}

/** The key type named inside a public key blob ("ssh-ed25519"), or undefined. */
export function keyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const n = blob.readUInt32BE(0);
  if (n === 0 || n > 64 || 4 + n > blob.length) return undefined;
  return blob.subarray(4, 4 + n).toString("latin1");
}

/**
 * The start wrapper that makes commands in an Incus instance killable as a tree.
 *
 * Incus delivers control-socket signals to the exec'd process only, and that process
 * shares a process group with `incusd forkexec` outside the container, so a group kill
 * from inside is impossible without help. Every command therefore starts as
 *
 *   /bin/sh -c WRAPPER moonexec CWD ARGV...
 *
 * The wrapper (a few shell builtins, no fork): changes to CWD (failing loudly when it does
 * not exist — Incus itself silently falls back to /), reports its pid on stderr as one
 * marker line `\x1emoonexec PID MODE\n`, then `exec setsid -- ARGV...`. setsid does not
 * fork (the process is no group leader) so the pid stays the same and becomes the leader
 * of a new session and process group: `kill -SIG -PID` run inside the instance then reaches
 * the whole tree (see group-killer.ts). The marker is always the first bytes on stderr and
 * is removed before the script sees stderr.
 *
 * MODE is `g` when PID leads its own process group, `p` when only the pid can be signalled
 * (no setsid binary in the instance). A missing /bin/sh is detected at open() and then
 * commands run unwrapped (signals reach the command only, via the control socket).
 */

export const MARKER_BYTE = 0x1e;
const MARKER_PREFIX = "\x1emoonexec ";
const NO_CWD = "nocwd";

/** Variables the wrapper shell itself would add to the command's environment. */
const SHELL_NOISE = ["SHLVL", "OLDPWD"];

export function wrapArgv(argv: string[], cwd: string | undefined, env: Record<string, string>): string[] {
  const noise = SHELL_NOISE.filter((v) => !(v in env));
  const unset = noise.length ? `unset ${noise.join(" ")}; ` : "";
  const script =
    `g=; read -r _ _ _ _ g _ 2>/dev/null </proc/$$/stat; ` +
    `if [ -n "$1" ]; then cd "$1" 2>/dev/null || { printf '\\036moonexec ${NO_CWD}\\n' >&2; exit 126; }; fi; shift; ` +
    unset +
    `if [ "$g" != "$$" ] && command -v setsid >/dev/null 2>&1; then printf '\\036moonexec %s g\\n' "$$" >&2; exec setsid -- "$@"; fi; ` +
    `[ "$g" = "$$" ] && m=g || m=p; printf '\\036moonexec %s %s\\n' "$$" "$m" >&2; exec "$@"`;
  return ["/bin/sh", "-c", script, "moonexec", cwd ?? "", ...argv];
}

export type Marker = { kind: "pid"; pid: number; group: boolean } | { kind: "nocwd" } | { kind: "none" };

/**
 * Splits the marker line off the start of stderr. Feed chunks in order; each call returns
 * the bytes to pass on. `onMarker` is called once: with the marker, or with `none` when
 * stderr starts with anything else (or ends before a marker).
 */
export class MarkerParser {
  private pending: Buffer | undefined = Buffer.alloc(0);

  constructor(private readonly onMarker: (m: Marker) => void) {}

  get done(): boolean {
    return this.pending === undefined;
  }

  feed(chunk: Buffer): Buffer {
    if (this.pending === undefined) return chunk;
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    if (buf.length === 0) return buf;
    const prefix = Buffer.from(MARKER_PREFIX, "latin1");
    const n = Math.min(buf.length, prefix.length);
    if (!buf.subarray(0, n).equals(prefix.subarray(0, n))) return this.settle({ kind: "none" }, buf);
    const nl = buf.indexOf(0x0a);
    if (nl < 0) {
      if (buf.length > 64) return this.settle({ kind: "none" }, buf);
      this.pending = buf;
      return Buffer.alloc(0);
    }
    const line = buf.subarray(prefix.length, nl).toString("latin1");
    const rest = buf.subarray(nl + 1);
    if (line === NO_CWD) return this.settle({ kind: "nocwd" }, rest);
    const m = /^(\d+) ([gp])$/.exec(line);
    if (!m) return this.settle({ kind: "none" }, buf);
    return this.settle({ kind: "pid", pid: Number(m[1]), group: m[2] === "g" }, rest);
  }

  /** stderr ended: whatever is pending is plain output. */
  end(): Buffer {
    const rest = this.pending ?? Buffer.alloc(0);
    if (this.pending !== undefined) this.settle({ kind: "none" }, rest);
    return rest;
  }

  private settle(m: Marker, pass: Buffer): Buffer {
    this.pending = undefined;
    this.onMarker(m);
    return pass;
  }
}

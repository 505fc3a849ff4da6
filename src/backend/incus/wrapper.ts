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

/** The wrapper script: $1 = work dir ("" = the default), the rest = argv. */
function wrapperScript(env: Record<string, string>): string {
  const noise = SHELL_NOISE.filter((v) => !(v in env));
  const unset = noise.length ? `unset ${noise.join(" ")}; ` : "";
  return (
    `__mx_g=; read -r _ _ _ _ __mx_g _ 2>/dev/null </proc/$$/stat; ` +
    `if [ -n "$1" ]; then cd "$1" 2>/dev/null || { printf '\\036moonexec ${NO_CWD}\\n' >&2; exit 126; }; fi; shift; ` +
    unset +
    `if [ "$__mx_g" != "$$" ] && command -v setsid >/dev/null 2>&1; then printf '\\036moonexec %s g\\n' "$$" >&2; exec setsid -- "$@"; fi; ` +
    `[ "$__mx_g" = "$$" ] && __mx_m=g || __mx_m=p; printf '\\036moonexec %s %s\\n' "$$" "$__mx_m" >&2; exec "$@"`
  );
}

/** argv for a command started directly under the wrapper. */
export function wrapArgv(argv: string[], cwd: string | undefined, env: Record<string, string>): string[] {
  return ["/bin/sh", "-c", wrapperScript(env), "moonexec", cwd ?? "", ...argv];
}

/**
 * argv of a pre-started ("warm") session: a shell that waits for one line on stdin and
 * evaluates it. `read` takes bytes up to the newline only, so whatever follows on stdin
 * is the command's. EOF before a line ends the shell (an unused session).
 */
export function warmArgv(): string[] {
  return ["/bin/sh", "-c", `__mx_n='\n'; IFS= read -r __mx_l || exit 0; eval "$__mx_l"`, "moonexec"];
}

const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_LINE = 64 * 1024;

/** Quote for sh, on one line: newlines become "$__mx_n" (set by the warm shell). */
function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`).replace(/\n/g, `'"$__mx_n"'`)}'`;
}

/**
 * The line a warm session evaluates to become the command: export the environment (on top
 * of what Incus gave the session — the same variables it gives a fresh exec), then run the
 * usual wrapper. undefined when the command cannot go this way (a variable name the shell
 * cannot export, or a very long line): it then gets a fresh exec.
 */
export function warmLine(argv: string[], cwd: string | undefined, env: Record<string, string>): string | undefined {
  const names = Object.keys(env);
  if (names.some((n) => !SHELL_NAME.test(n))) return undefined;
  const exports = names.length ? `export ${names.map((n) => shq(`${n}=${env[n]}`)).join(" ")}; ` : "";
  const line = `${exports}set -- ${[cwd ?? "", ...argv].map(shq).join(" ")}; ${wrapperScript(env)}\n`;
  return line.length > MAX_LINE ? undefined : line;
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

/**
 * The start wrapper: makes commands in an Incus instance killable as a tree, and makes
 * their output lossless.
 *
 * Why. (1) Incus delivers control-socket signals to the exec'd process only, and that
 * process shares a process group with `incusd forkexec` outside the container, so a group
 * kill from inside is impossible without help. (2) Incus drops output: its pipe reader
 * returns EOF as soon as the exec'd process is dead, unless it has already seen the pipe
 * hang up — and the daemon holds the pipe's write end itself until just after it marks the
 * process dead, so output still in the pipe when the process exits can be cut (seen here
 * about once in 60 runs of a 64 KiB output under load). So the exec'd process must not exit
 * before the client has received all output.
 *
 * How. Every command starts as
 *
 *   /bin/sh -c STAGE1 moonexec STAGE2 TOKEN CWD UNSET GUARD ARGV...
 *
 * Stage 1 changes to CWD (failing loudly when it does not exist — Incus itself silently
 * falls back to /), writes the start marker `\x1emoonexec PID MODE\n` as the first bytes
 * of stderr, then `exec setsid -- /bin/sh -c STAGE2 ...`: setsid does not fork (the process
 * is no group leader), so PID becomes the leader of a new session and process group and
 * `kill -SIG -PID` inside the instance reaches the whole tree (group-killer.ts).
 *
 * Stage 2 (same pid, still the process Incus waits for) unsets the variables its shells
 * would add (UNSET), catches the usual signals (so a signal to the group reaches the
 * command but not the wrapper; with MODE `p` — no setsid in the instance — it forwards
 * them), runs ARGV as its child (`exec`, so no shell builtin stands in for a program;
 * stdin passed on), reports the child's pid as `TOKEN p PID ;` on stderr, waits for it,
 * writes `TOKEN e` to stdout and to stderr, and then stops itself (SIGSTOP, no helper
 * process) until the client, having received both, sends SIGUSR1 and SIGCONT on the
 * control socket — only then does it exit, with the child's status (128+N for a signal
 * death, as Incus would report it). If the client goes away, Incus SIGKILLs it, and WATCHER
 * kills the rest of the group (also after a normal exit, through the executor's guard).
 *
 * The client removes the marker and the TOKEN records (a random token per command) from
 * the streams. A missing /bin/sh is detected at open() and then commands run unwrapped:
 * signals reach the command only, the pid is unknown, and output may be cut as above.
 */
import { randomBytes } from "node:crypto";
import { shQuoter } from "../../process/sh-quote.js";

const MARKER_PREFIX = "\x1emoonexec ";
const NO_CWD = "nocwd";
/** SIGUSR1 then SIGCONT: the client's "all output received" to stage 2. */
export const ACK_SIGNALS = [10, 18] as const;

/** Variables the wrapper shells themselves would add to the command's environment. */
const SHELL_NOISE = ["SHLVL", "OLDPWD", "PWD"];
/** Signals stage 2 catches (and forwards in mode p); USR1 is handled apart. */
const CAUGHT = ["HUP", "INT", "QUIT", "TERM", "USR2", "ALRM"];

const STAGE1 =
  `__mx_g=; read -r _ _ _ _ __mx_g _ 2>/dev/null </proc/$$/stat; ` +
  `if [ -n "$3" ]; then cd "$3" 2>/dev/null || { printf '\\036moonexec ${NO_CWD}\\n' >&2; exit 126; }; fi; ` +
  `if [ "$__mx_g" != "$$" ] && command -v setsid >/dev/null 2>&1; then printf '\\036moonexec %s g\\n' "$$" >&2; exec setsid -- /bin/sh -c "$1" moonexec g "$@"; fi; ` +
  `[ "$__mx_g" = "$$" ] && __mx_m=g || __mx_m=p; printf '\\036moonexec %s %s\\n' "$$" "$__mx_m" >&2; exec /bin/sh -c "$1" moonexec "$__mx_m" "$@"`;

/**
 * The command's watchdog: when the client goes away Incus kills the wrapper (stage 2) but not
 * its children. A subshell in the command's group (deaf to the signals a script sends the
 * group, holding none of its pipes) checks every second that the wrapper lives, and when it
 * is gone kills the group (mode p: the command).
 *
 * With the executor's guard (GUARD = "PID:STARTTIME" of a process whose life is the client's
 * connection, see guard.ts) the watcher outlives a wrapper that exited normally as long as
 * the guard lives and the group has other members: background children a finished command
 * left are then killed when the host dies before release(). Without a guard the wrapper
 * kills its watcher before it exits, so those children stay until release().
 */
const WATCHER_FUNCTIONS =
  // Is the guard alive? Its pid holds a process started at the same time (no reused pid).
  `__mx_alive() { read -r __mx_l <"/proc/\${__mx_k%:*}/stat" 2>/dev/null || return 1; __mx_l=\${__mx_l##*) }; set -- $__mx_l; [ "\${20}" = "\${__mx_k#*:}" ]; }; ` +
  // Has the group a member other than the watcher itself?
  `__mx_others() { for __mx_f in /proc/[0-9]*/stat; do [ "$__mx_f" = "/proc/$__mx_s/stat" ] && continue; ` +
  `read -r __mx_l <"$__mx_f" 2>/dev/null || continue; __mx_l=\${__mx_l##*) }; set -- $__mx_l; [ "$3" = "$$" ] && return 0; done; return 1; }; `;

const WATCHER =
  `( trap '' HUP INT QUIT TERM USR1 USR2 ALRM; while kill -0 $$ 2>/dev/null; do sleep 1; done; ` +
  `if [ "$__mx_m" = g ] && [ -n "$__mx_k" ]; then read -r __mx_s _ </proc/self/stat; while __mx_alive && __mx_others; do sleep 1; done; fi; ` +
  `if [ "$__mx_m" = g ]; then kill -9 -$$; else kill -9 "$__mx_c"; fi ) </dev/null >/dev/null 2>&1 & __mx_w=$!; `;

const STAGE2 =
  `__mx_m=$1; __mx_t=$3; __mx_u=$5; __mx_k=$6; shift 6; [ -n "$__mx_u" ] && unset $__mx_u; ` +
  WATCHER_FUNCTIONS +
  `__mx_d=; __mx_go=; __mx_i=; __mx_c=; ` +
  CAUGHT.map((sig) => `trap '__mx_i=1; [ "$__mx_m" = p ] && kill -${sig} "$__mx_c" 2>/dev/null' ${sig}; `).join("") +
  `trap '__mx_i=1; if [ -n "$__mx_d" ]; then __mx_go=1; elif [ "$__mx_m" = p ]; then kill -USR1 "$__mx_c" 2>/dev/null; fi' USR1; ` +
  // Mode g: the child in the foreground (a background job of sh starts with SIGINT ignored);
  // it reports its own pid. Mode p: in the background, so the traps can forward signals.
  // WATCHER starts once the group (g) or the child's pid (p) is known.
  `exec 3<&0; if [ "$__mx_m" = g ]; then ` +
  WATCHER +
  `(read -r __mx_c _ </proc/self/stat || __mx_c=0; printf '%sp%s;' "$__mx_t" "$__mx_c" >&2; exec "$@") <&3 3<&-; __mx_rc=$?; exec 3<&-; else ` +
  `(exec "$@") <&3 3<&- & __mx_c=$!; exec 3<&-; ` +
  WATCHER +
  `printf '%sp%s;' "$__mx_t" "$__mx_c" >&2; ` +
  `while :; do __mx_i=; wait "$__mx_c"; __mx_rc=$?; [ -n "$__mx_i" ] && kill -0 "$__mx_c" 2>/dev/null && continue; break; done; fi; ` +
  `__mx_d=1; printf '%se' "$__mx_t"; printf '%se' "$__mx_t" >&2; ` +
  `while [ -z "$__mx_go" ]; do kill -STOP $$; done; ` +
  `[ "$__mx_m" = g ] && [ -n "$__mx_k" ] || kill -9 "$__mx_w" 2>/dev/null; exit "$__mx_rc"`;

/** A fresh random token for one command's records. */
export function newToken(): string {
  return `\x1e${randomBytes(8).toString("hex")}\x1f`;
}

const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A shell drops environment variables whose names it cannot hold (`A-B`, `X Y`); those are
 * passed through `env -- NAME=VALUE ... ARGV` instead.
 */
function withOddEnv(argv: string[], env: Record<string, string>): string[] {
  const odd = Object.keys(env).filter((n) => !SHELL_NAME.test(n));
  return odd.length ? ["env", "--", ...odd.map((n) => `${n}=${env[n]}`), ...argv] : argv;
}

/** The wrapper's arguments after STAGE2: TOKEN CWD UNSET GUARD ARGV... (GUARD: see WATCHER; "" = none). */
function wrapperArgs(argv: string[], cwd: string | undefined, env: Record<string, string>, token: string, guard: string): string[] {
  const unset = SHELL_NOISE.filter((v) => !(v in env)).join(" ");
  return [token, cwd ?? "", unset, guard, ...withOddEnv(argv, env)];
}

/** argv for a command started directly under the wrapper. */
export function wrapArgv(argv: string[], cwd: string | undefined, env: Record<string, string>, token: string, guard = ""): string[] {
  return ["/bin/sh", "-c", STAGE1, "moonexec", STAGE2, ...wrapperArgs(argv, cwd, env, token, guard)];
}

/**
 * argv of a pre-started ("warm") session: a shell that waits for one line on stdin and
 * evaluates it. `read` takes bytes up to the newline only, so whatever follows on stdin
 * is the command's. EOF before a line ends the shell (an unused session).
 */
export function warmArgv(): string[] {
  return ["/bin/sh", "-c", `__mx_n='\n'; __mx_s1=$1; __mx_s2=$2; IFS= read -r __mx_l || exit 0; eval "$__mx_l"`, "moonexec", STAGE1, STAGE2];
}

const MAX_LINE = 64 * 1024;

/** sh single-quoting on one line: newlines become "$__mx_n" (set by the warm shell). */
const shq = shQuoter("__mx_n");

/**
 * The line a warm session evaluates to become the command: export the environment (on top
 * of what Incus gave the session — the same variables it gives a fresh exec), then run
 * stage 1 as a fresh exec would. undefined when the line would be very long: the command
 * then gets a fresh exec.
 */
export function warmLine(argv: string[], cwd: string | undefined, env: Record<string, string>, token: string, guard = ""): string | undefined {
  const names = Object.keys(env).filter((n) => SHELL_NAME.test(n));
  const exports = names.length ? `export ${names.map((n) => shq(`${n}=${env[n]}`)).join(" ")}; ` : "";
  const args = wrapperArgs(argv, cwd, env, token, guard).map(shq).join(" ");
  const line = `${exports}set -- "$__mx_s2" ${args}; eval "$__mx_s1"\n`;
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
      this.pending = Buffer.from(buf); // a copy: the chunk's memory may be read into again (ring-reads.ts)
      return Buffer.alloc(0);
    }
    // On a terminal the line ends "\r\n" (the line discipline's output processing).
    const line = buf.subarray(prefix.length, nl).toString("latin1").replace(/\r$/, "");
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

export type TokenRecord = { kind: "pid"; pid: number } | { kind: "end" };

/**
 * Removes `TOKEN p PID ;` and `TOKEN e` records from a stream, wherever they are, and
 * reports them. Bytes that could be the start of a record are held back only while they
 * are the last bytes seen, so ordinary output is never delayed.
 */
export class TokenFilter {
  private held: Buffer = Buffer.alloc(0);
  private readonly token: Buffer;

  constructor(
    token: string,
    private readonly onRecord: (r: TokenRecord) => void,
  ) {
    this.token = Buffer.from(token, "latin1");
  }

  feed(chunk: Buffer): Buffer {
    const buf = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = Buffer.alloc(0);
    // Pieces are gathered only once a record is cut out: plain output passes as it came, a
    // view of the chunk (no copy; ring-reads.ts counts on that to reuse its buffers).
    let pieces: Buffer[] | undefined;
    const pass = (last: Buffer) => (pieces ? Buffer.concat([...pieces, last]) : last);
    const first = this.token[0]!;
    let from = 0;
    for (let at = buf.indexOf(first); at >= 0; ) {
      const got = this.match(buf, at);
      if (got === "partial") {
        this.held = Buffer.from(buf.subarray(at));
        return pass(buf.subarray(from, at));
      }
      if (got === "no") {
        at = buf.indexOf(first, at + 1);
        continue;
      }
      (pieces ??= []).push(buf.subarray(from, at));
      this.onRecord(got.record);
      from = got.next;
      at = buf.indexOf(first, from);
    }
    return pass(buf.subarray(from));
  }

  /** The stream ended: held bytes were output after all. */
  end(): Buffer {
    const rest = this.held;
    this.held = Buffer.alloc(0);
    return rest;
  }

  private match(buf: Buffer, at: number): "no" | "partial" | { record: TokenRecord; next: number } {
    const t = this.token;
    const avail = buf.length - at;
    const n = Math.min(avail, t.length);
    if (buf.compare(t, 0, n, at, at + n) !== 0) return "no";
    if (avail <= t.length) return "partial";
    const kind = buf[at + t.length];
    if (kind === 0x65 /* e */) return { record: { kind: "end" }, next: at + t.length + 1 };
    if (kind !== 0x70 /* p */) return "no";
    const semi = buf.indexOf(0x3b /* ; */, at + t.length + 1);
    if (semi < 0) return avail - t.length > 12 ? "no" : "partial";
    const digits = buf.subarray(at + t.length + 1, semi).toString("latin1");
    if (!/^\d{1,10}$/.test(digits)) return "no";
    return { record: { kind: "pid", pid: Number(digits) }, next: semi + 1 };
  }
}

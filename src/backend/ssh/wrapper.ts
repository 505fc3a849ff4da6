/**
 * The remote command lines exec.ssh sends: a start wrapper for each command and one group
 * watcher per connection.
 *
 * sshd runs an exec request as `$SHELL -c LINE` in a new session (OpenSSH calls setsid()
 * for it), so the shell — and whatever it `exec`s — leads its own process group. LINE is
 *
 *   exec /bin/sh -c START moonexec CWD NAME=VALUE... ARGV...
 *
 * START changes to CWD (a missing directory is reported as the marker `\x1emoonexec nocwd`
 * on stderr, exit 126), writes `\x1emoonexec PID g|p\n` as the first bytes of stderr (`g`:
 * PID leads its process group, so `kill -SIG -PID` reaches the whole tree), then
 * `exec env -i` with the login's HOME/USER/LOGNAME/PATH/SHELL, then the command's variables
 * (later ones win), then ARGV. Every exec keeps the pid: PID is the command's own pid.
 * The environment goes this way because sshd drops `env` requests unless AcceptEnv
 * allows them.
 *
 * Signals: sshd ignores "signal" channel requests for root sessions, and many servers ignore
 * them entirely; so each connection runs a WATCHER session that reads lines on stdin:
 *   a T   watch target T (`-PGID` for a group, `PID` otherwise)
 *   x T   the command ended: stop watching T unless processes of its group remain
 *   d T   stop watching T
 *   k N T send signal N to T, answer `k` on stdout
 *   K N T the same, only while T is watched (after the command ended its pid may be reused)
 * When its stdin ends — the connection closed, or the host died — it SIGKILLs every target
 * it still watches, so no remote command outlives its connection.
 */
import { shQuote, shQuoter } from "../../process/sh-quote.js";


const START =
  `c=$1; shift; ` +
  `if [ -n "$c" ]; then cd "$c" 2>/dev/null || { printf '\\036moonexec nocwd\\n' >&2; exit 126; }; fi; ` +
  `g=; read -r _ _ _ _ g _ 2>/dev/null </proc/$$/stat; [ "$g" = "$$" ] && m=g || m=p; ` +
  `printf '\\036moonexec %s %s\\n' "$$" "$m" >&2; ` +
  `exec env -i \${HOME+"HOME=$HOME"} \${USER+"USER=$USER"} \${LOGNAME+"LOGNAME=$LOGNAME"} \${PATH+"PATH=$PATH"} \${SHELL+"SHELL=$SHELL"} "$@"`;

/** The exec request line for one command. */
export function commandLine(argv: string[], cwd: string | undefined, env: Record<string, string>): string {
  return ["exec", "/bin/sh", "-c", shQuote(START), "moonexec", ...words(argv, cwd, env).map(shQuote)].join(" ");
}

/** START's arguments: the work directory, the variables, the command. */
function words(argv: string[], cwd: string | undefined, env: Record<string, string>): string[] {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  // env(1) would take an argv[0] containing '=' as one more variable.
  const cmd = argv[0]?.includes("=") ? ["/bin/sh", "-c", 'exec "$@"', "sh", ...argv] : argv;
  return [cwd ?? "", ...vars, ...cmd];
}

/**
 * A spare session (pool.ts opens them ahead of need): the login shell itself defines START as
 * a function, reads one line on stdin and evaluates it — sh's `read` takes a pipe one byte
 * at a time, so the rest of stdin stays for the command. The line is spareCommandLine():
 * one call of the function with the command's words, on one line (a newline inside a word
 * is written `$n`). No /bin/sh in between: the login shell is Bourne-compatible anyway
 * (docs/ssh.md), and an exec less per command is measurable.
 */
const SPARE = `n='\n'; moonexec_start() { ${START}; }; IFS= read -r l || exit 0; eval "$l"`;

/** The exec request line of a spare session. */
export function spareLine(): string {
  return SPARE;
}

/** Quote one word for the spare's eval: no newline may stay literal (SPARE holds one in $n). */
const shqLine = shQuoter("n");

/** The line a spare session reads (with its newline): START run on the command's words. */
export function spareCommandLine(argv: string[], cwd: string | undefined, env: Record<string, string>): string {
  return `moonexec_start ${words(argv, cwd, env).map(shqLine).join(" ")}\n`;
}

const WATCHER =
  `g=' '; ` +
  `while IFS= read -r l; do set -- $l; case $1 in ` +
  `a) g="$g$2 " ;; ` +
  `x) if ! kill -0 "$2" 2>/dev/null; then case $g in *" $2 "*) g="\${g%% $2 *} \${g#* $2 }" ;; esac; fi ;; ` +
  `d) case $g in *" $2 "*) g="\${g%% $2 *} \${g#* $2 }" ;; esac ;; ` +
  `k) kill -"$2" "$3" 2>/dev/null; echo k ;; ` +
  `K) case $g in *" $3 "*) kill -"$2" "$3" 2>/dev/null ;; esac; echo k ;; ` +
  `esac; done; ` +
  `for t in $g; do kill -9 "$t" 2>/dev/null; done`;

/** The exec request line of the per-connection watcher. */
export function watcherLine(): string {
  return `exec /bin/sh -c ${shQuote(WATCHER)}`;
}

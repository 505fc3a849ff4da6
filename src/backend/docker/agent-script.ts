/**
 * The shell code moonexec runs inside the executor's container. Only POSIX sh features
 * plus `cat` and `mkfifo` are used (and `setsid` when the image has it), so any image
 * with a shell works: busybox, alpine, debian, ...
 *
 * INIT (the container's main process, pid 1): reads "SIGNO TARGET" lines from its stdin
 * (the attach connection moonexec holds) and answers each with kill's status on stdout —
 * this is how signals reach commands without a `docker exec` per signal. As pid 1 it also
 * reaps orphaned processes (`wait` collects any child). When moonexec's connection closes
 * (release, crash, SIGKILL) stdin ends, pid 1 exits and the container stops: a dead man's
 * switch, so a killed host leaves no running container behind (and with AutoRemove, none at all).
 *
 * AGENT (one long-lived `docker exec` that runs many commands one after another): reads a
 * key line, then one line per command: "KEY NONCE CODE". CODE (built by commandCode) runs
 * in a background subshell whose stdout/stderr are the agent's two FIFOs, relayed by `cat` to
 * the agent's own stdout/stderr — so a command's output ends exactly when every process
 * holding it has closed it, like a pipe. On its stderr the agent reports "mx:pid:PID:MODE"
 * and the subshell "mx:go" (or mx:nocmd / mx:nodir) just before it execs the command in a
 * new session (setsid), so PID is also the process group to signal (MODE g; p = no setsid
 * in the image, signals reach PID only). After the output ended the agent writes
 * "MX<NONCE>:STATUS:CLEAN\n" on stdout and "MX<NONCE>\n" on stderr: NONCE is random per
 * command and never visible to it, so the delimiters cannot be faked by accident.
 * CLEAN=1 means nothing of the command's process group is left, so the agent may be reused.
 * A line without the key (e.g. stdin bytes a command left unread) ends the agent.
 */
import { shQuoter } from "../../process/sh-quote.js";

export const INIT_SCRIPT = [
  "exec 3<&0 0</dev/null",
  'while IFS= read -r l <&3; do set -- $l; kill "-$1" "$2" 2>/dev/null; echo "$?"; done &',
  "wait",
].join("\n");

export const AGENT_SCRIPT = [
  "nl='\n'",
  "unset SHLVL PWD OLDPWD",
  "exec 3<&0",
  "IFS= read -r K || exit 0",
  "D=",
  "command -v cat >/dev/null 2>&1 && command -v mkfifo >/dev/null 2>&1 &&",
  'for d in /dev/shm /tmp "$HOME"; do',
  '  if [ -d "$d" ] && [ -w "$d" ] && mkfifo "$d/.mx-$$.o" "$d/.mx-$$.e" 2>/dev/null; then D=$d; break; fi',
  '  rm -f "$d/.mx-$$.o" "$d/.mx-$$.e" 2>/dev/null',
  "done",
  'o=$D/.mx-$$.o; e=$D/.mx-$$.e',
  '[ -n "$D" ] && trap \'rm -f "$o" "$e"\' EXIT',
  "if command -v setsid >/dev/null 2>&1; then S='setsid --'; G=g; else S=; G=p; fi",
  // r ARGV...: the last step of a command's subshell: check, report, become the command.
  'r() { command -v "$1" >/dev/null 2>&1 || { echo mx:nocmd >&9; exit 127; }; echo mx:go >&9; exec 9>&- 3<&- $S "$@"; }',
  "while IFS= read -r L; do",
  '  case $L in "$K "*) ;; *) exit 0 ;; esac',
  '  L=${L#"$K "}; N=${L%% *}; C=${L#* }',
  '  if [ -z "$D" ]; then echo "mx:pid:0:$G" >&2; echo mx:nofifo >&2; echo "MX$N:127:1"; echo "MX$N" >&2; continue; fi',
  '  ( eval "$C" ) 9>&2 <&3 >"$o" 2>"$e" &',
  "  p=$!",
  '  echo "mx:pid:$p:$G" >&2',
  '  cat "$o" & a=$!',
  '  cat "$e" >&2 & b=$!',
  '  wait "$p"; s=$?',
  '  wait "$a"; wait "$b"',
  '  c=0; if [ "$G" = g ] && ! kill -0 "-$p" 2>/dev/null; then c=1; fi',
  '  echo "MX$N:$s:$c"',
  '  echo "MX$N" >&2',
  "done",
].join("\n");

/** sh single-quoting on one line: newlines become "$nl" (set by AGENT_SCRIPT). */
export const shQuote = shQuoter("nl");

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The one-line shell code that starts one command inside the agent's subshell.
 * `cwd` undefined = stay in the container's working directory.
 */
export function commandCode(argv: string[], env: Record<string, string>, cwd: string | undefined): string {
  const parts: string[] = [];
  if (cwd !== undefined) {
    parts.push(`cd ${shQuote(cwd)} 2>/dev/null || { echo mx:nodir >&9; exit 127; }`);
    // cd exported these; the command gets them only when asked for.
    const noise = ["PWD", "OLDPWD"].filter((n) => !(n in env));
    if (noise.length) parts.push(`unset ${noise.join(" ")}`);
  }
  const odd: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (NAME.test(k)) parts.push(`export ${k}=${shQuote(v)}`);
    else odd.push(shQuote(`${k}=${v}`)); // not a shell name: hand it over through env(1)
  }
  const run = argv.map(shQuote).join(" ");
  if (odd.length) {
    parts.push(`command -v ${shQuote(argv[0]!)} >/dev/null 2>&1 || { echo mx:nocmd >&9; exit 127; }`);
    parts.push(`r env ${odd.join(" ")} ${run}`);
  } else {
    parts.push(`r ${run}`);
  }
  return parts.join("; ");
}

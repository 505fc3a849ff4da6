/**
 * The shell code of a terminal command: a `docker exec` of its own with Tty (the agent of
 * agent-script.ts relays pipes, which a terminal has not). runc makes every exec process
 * the leader of a new session, with the terminal as its controlling terminal, so the
 * command — which the script becomes by `exec` — leads its own process group and "\x03"
 * typed on the terminal reaches that group through the line discipline.
 *
 * Everything on a terminal is one stream, so the script reports on it, before the command
 * runs, one header line: "MX<NONCE>:go:PID:MODE" (MODE g: PID leads its process group),
 * or "MX<NONCE>:nocmd" / "MX<NONCE>:nodir". NONCE is random per command. The command's
 * environment and directory are set up as the agent does (commandCode). The terminal gets
 * its size from stty where the image has it (and from the daemon's resize, see tty-command.ts).
 */
import { commandCode } from "./agent-script.js";
import type { PtySpec } from "../contract.js";

/** argv of the exec: sh -c SCRIPT moonexec NONCE. */
export function ttyArgv(nonce: string, argv: string[], env: Record<string, string>, cwd: string | undefined, pty: PtySpec): string[] {
  const script = [
    "nl='\n'",
    "unset SHLVL PWD OLDPWD",
    'N=$1; exec 9>&1',
    // Daemons before API 1.42 ignore ConsoleSize: size the terminal before the command can look.
    `command -v stty >/dev/null 2>&1 && stty rows ${pty.rows} cols ${pty.cols} 2>/dev/null`,
    'read -r _ _ _ _ g _ </proc/$$/stat 2>/dev/null; [ "$g" = "$$" ] && G=g || G=p',
    // The agent's r(), without setsid: the exec already leads a session (a new one would lose the terminal).
    'r() { command -v "$1" >/dev/null 2>&1 || { echo "MX$N:nocmd" >&9; exit 127; }; echo "MX$N:go:$$:$G" >&9; exec 9>&- "$@"; }',
    // commandCode reports on fd 9 as "mx:nodir"/"mx:nocmd"; here the header carries the nonce.
    commandCode(argv, env, cwd).replace(/echo mx:(nodir|nocmd) >&9/g, 'echo "MX$N:$1" >&9'),
  ].join("\n");
  return ["sh", "-c", script, "moonexec", nonce];
}

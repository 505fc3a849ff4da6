/**
 * The native watchdog: nothing a host started outlives it, even when the host dies without
 * cleaning up (SIGKILL, a crash, the OOM killer).
 *
 * One small shell process per host process, started with the first native executor, in a
 * session of its own (terminal signals and a kill of the host's group do not reach it). It
 * reads `+PGID` / `-PGID` lines on stdin — the process groups of native commands that may
 * still have members — and `+SSID` / `-SSID` lines — the sessions of commands on a terminal,
 * whose programs may have made groups of their own (a shell's jobs) — and when stdin reaches EOF, which the kernel causes when the host
 * dies (the write end lives in the host only: Node opens it close-on-exec), it SIGKILLs every
 * group still listed and exits. A host that ends normally has an empty list by then.
 *
 * Why not PR_SET_PDEATHSIG (e.g. `setpriv --pdeathsig KILL` in front of every command): it
 * reaches only the command's own process, not children it leaves in its group
 * (`sh -c 'sleep 100 &'`), and it costs an extra exec per command. See docs/faults.md.
 */
import { spawn, type ChildProcess } from "node:child_process";

const SCRIPT = [
  "trap '' INT HUP TERM QUIT PIPE USR1 USR2 ALRM",
  "l=",
  "s=",
  "while IFS= read -r x; do",
  '  case $x in',
  '    +S*) s="$s ${x#+S}" ;;',
  '    -S*) n=; for p in $s; do [ "$p" = "${x#-S}" ] || n="$n $p"; done; s=$n ;;',
  '    +*) l="$l ${x#+}" ;;',
  '    -*) n=; for p in $l; do [ "$p" = "${x#-}" ] || n="$n $p"; done; l=$n ;;',
  "  esac",
  "done",
  'for p in $l; do kill -9 -"$p" 2>/dev/null; done',
  // A terminal's session: every group in it (after ")": state ppid pgrp session).
  'if [ -n "$s" ]; then for f in /proc/[0-9]*/stat; do read -r x <"$f" 2>/dev/null || continue; x=${x##*) }; set -- $x; for p in $s; do [ "$4" = "$p" ] && kill -9 -"$3" 2>/dev/null; done; done; fi',
].join("\n");

/** argv[0] of the watchdog's shell: how tests and `ps` tell it apart. */
export const WATCHDOG_NAME = "moonexec-watchdog";

/** Every group listed with the watchdog now (re-sent to a new one if it died). */
const groups = new Set<number>();
/** Every session listed with the watchdog now. */
const sessions = new Set<number>();
let dog: ChildProcess | undefined;

function start(): ChildProcess | undefined {
  let child: ChildProcess;
  try {
    child = spawn("/bin/sh", ["-c", SCRIPT, WATCHDOG_NAME], { detached: true, stdio: ["pipe", "ignore", "ignore"] });
  } catch {
    return undefined; // no /bin/sh: commands still run; only the host-death guarantee is lost
  }
  child.on("error", () => {});
  child.stdin!.on("error", () => {});
  child.once("exit", () => {
    if (dog === child) dog = undefined;
  });
  // The watchdog must not keep the host's event loop alive.
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  if (groups.size + sessions.size > 0) child.stdin!.write([...groups].map((g) => `+${g}\n`).join("") + [...sessions].map((g) => `+S${g}\n`).join(""));
  return child;
}

function send(line: string): void {
  dog ??= start();
  if (dog?.stdin?.writable) dog.stdin.write(line);
}

/** Start the watchdog now (first native executor), so the first command does not wait for it. */
export function ensureWatchdog(): void {
  dog ??= start();
}

/** A command's process group exists: kill it if the host dies. */
export function watchGroup(pgid: number): void {
  if (groups.has(pgid)) return;
  groups.add(pgid);
  send(`+${pgid}\n`);
}

/** The group is gone (or killed): its id may be reused, so the watchdog must drop it. */
export function forgetGroup(pgid: number): void {
  if (!groups.delete(pgid)) return;
  send(`-${pgid}\n`);
}

/** A terminal's session exists: kill every group in it if the host dies. */
export function watchSession(sid: number): void {
  if (sessions.has(sid)) return;
  sessions.add(sid);
  send(`+S${sid}\n`);
}

/** The session is empty (or killed): its id may be reused. */
export function forgetSession(sid: number): void {
  if (!sessions.delete(sid)) return;
  send(`-S${sid}\n`);
}

/** How many groups the watchdog holds now (soak: must not grow). */
export function watchedGroups(): number {
  return groups.size + sessions.size;
}

/** The pid of the watchdog process, if one runs (tests). */
export function watchdogPid(): number | undefined {
  return dog?.pid;
}

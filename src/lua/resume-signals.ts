/**
 * Signals while Lua runs on the main thread (`moonexec run`, which owns its process).
 *
 * A resume of a Lua thread is one synchronous call: JavaScript signal listeners cannot run
 * until it returns, and a CPU loop never returns. So, during a resume:
 *
 * - SIGINT: V8's SIGINT watchdog (vm's breakOnSigint) terminates the call, even inside wasm;
 *   the caller gives the VM up and the run ends as interrupted (exit 130, cleanup in-process).
 * - SIGTERM, SIGHUP: their listeners are taken off, so the signal's default action applies and
 *   the process dies at once; the host-death guards (native watchdog, Incus watcher, Docker
 *   AutoRemove) clean up what the script started. Between resumes the listeners are back and
 *   the run ends in order (exit 143 / 129). Either way the shell sees 128 + the signal.
 *
 * Cost. breakOnSigint alone starts and joins a watchdog thread on every call, and takes the
 * SIGINT listeners off and on again (~0.1–0.2 ms a resume). Here the watchdog is held for a
 * *session* instead — the resumes of a run that follow each other closely — through the
 * contextify binding's startSigintWatchdog/stopSigintWatchdog (what Node's REPL uses); each
 * resume's own watchdog then only counts up and down. While a session holds the watchdog, a
 * SIGINT between resumes is only recorded by it: it is taken before the next resume and by
 * the session's timer. Without the binding, each resume pays the full price.
 */
import { Script } from "node:vm";
import { SIGNAL_SESSION_IDLE_MS } from "../constants.js";

interface WatchdogBinding {
  startSigintWatchdog(): boolean;
  stopSigintWatchdog(): boolean;
}

/** Signals whose default action (death) applies during a resume, when the process listens to them. */
const FATAL_DURING_RESUME = ["SIGTERM", "SIGHUP"] as const;

const binding = contextify();
let active = false;
let savedSigint: Array<(...args: unknown[]) => void> = [];
let timer: NodeJS.Timeout | undefined;
let lastResume = 0;

/**
 * Call `fn` (a resume) so that SIGINT terminates it and SIGTERM/SIGHUP kill the process.
 * Throws ERR_SCRIPT_EXECUTION_INTERRUPTED when a SIGINT stopped it: V8 stopped whatever ran
 * at that moment, a host call's JavaScript included (a write to stdout half done), so only
 * a host that owns the process and ends with the run may use this.
 */
export function resumeUnderSignals<T>(fn: () => T): T {
  if (binding && !active) begin();
  const fatal = FATAL_DURING_RESUME.filter((s) => process.listenerCount(s) > 0).map((s) => [s, process.rawListeners(s)] as const);
  for (const [s] of fatal) process.removeAllListeners(s);
  try {
    return underSigintWatchdog(fn);
  } finally {
    for (const [s, listeners] of fatal) for (const l of listeners) process.on(s, l as () => void);
    lastResume = Date.now();
  }
}

/**
 * A SIGINT that came while a session held the watchdog between resumes: handed to the SIGINT
 * listeners now (the caller then sees its run stopped). True when there was one.
 */
export function deliverPendingSigint(): boolean {
  if (!active || !binding) return false;
  // A nested start/stop pair reads and clears the watchdog's pending flag.
  binding.startSigintWatchdog();
  if (!binding.stopSigintWatchdog()) return false;
  for (const l of savedSigint) l("SIGINT");
  return true;
}

/** End the session (the run ended, or its Lua has been idle a while): SIGINT goes back to its listeners. */
export function endSignalSession(): void {
  if (!active || !binding) return;
  active = false;
  clearTimeout(timer);
  timer = undefined;
  const pending = binding.stopSigintWatchdog();
  const listeners = savedSigint;
  savedSigint = [];
  for (const l of listeners) process.on("SIGINT", l);
  if (pending) for (const l of listeners) l("SIGINT");
}

function begin(): void {
  // Node's SIGINT listeners would take the signal from the watchdog (the handler installed
  // last wins): they are off while the session holds it, and called for a pending SIGINT.
  savedSigint = process.rawListeners("SIGINT") as typeof savedSigint;
  process.removeAllListeners("SIGINT");
  binding!.startSigintWatchdog();
  active = true;
  lastResume = Date.now();
  arm(SIGNAL_SESSION_IDLE_MS);
}

function arm(ms: number): void {
  timer = setTimeout(tick, ms);
  timer.unref(); // the session must not keep an otherwise finished process alive
}

function tick(): void {
  timer = undefined;
  if (!active) return;
  if (deliverPendingSigint()) return endSignalSession();
  const idle = Date.now() - lastResume;
  if (idle >= SIGNAL_SESSION_IDLE_MS) endSignalSession();
  else arm(SIGNAL_SESSION_IDLE_MS - idle);
}

/** The binding behind Node's REPL watchdog; undefined where it is missing or would print a deprecation warning. */
function contextify(): WatchdogBinding | undefined {
  if (process.execArgv.includes("--pending-deprecation") || /--pending-deprecation/.test(process.env.NODE_OPTIONS ?? "")) return undefined;
  try {
    const b = (process as unknown as { binding(name: string): Partial<WatchdogBinding> }).binding("contextify");
    return typeof b.startSigintWatchdog === "function" && typeof b.stopSigintWatchdog === "function" ? (b as WatchdogBinding) : undefined;
  } catch {
    return undefined;
  }
}

const WATCHED = Symbol.for("moonexec.watched");
let watchedCall: (() => void) | undefined;
let watchedScript: Script | undefined;

/** Call `fn` under vm's breakOnSigint: a watchdog thread asks V8 to stop it on SIGINT. */
function underSigintWatchdog<T>(fn: () => T): T {
  if (!watchedScript) {
    (globalThis as Record<symbol, unknown>)[WATCHED] = () => watchedCall!();
    watchedScript = new Script(`globalThis[Symbol.for("moonexec.watched")]()`);
  }
  let out!: T;
  watchedCall = () => void (out = fn());
  try {
    watchedScript.runInThisContext({ breakOnSigint: true });
  } finally {
    watchedCall = undefined;
  }
  return out;
}

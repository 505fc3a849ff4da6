/**
 * Signals while Lua runs on the main thread (`moonexec run`, which owns its process).
 *
 * A resume of a Lua thread is one synchronous call: JavaScript signal listeners cannot run
 * until it returns, and a CPU loop never returns. Nothing here is switched on and off while
 * the run lasts, because switching loses signals: taking a listener off closes Node's signal
 * handle, and a signal that handle caught but the event loop had not yet dispatched is
 * dropped (libuv).
 *
 * - SIGINT: V8's SIGINT watchdog (the contextify binding's startSigintWatchdog, what Node's
 *   REPL uses) holds the signal from the start of the run until the process ends. Each resume
 *   runs under vm's breakOnSigint: a SIGINT during it terminates it, even inside wasm; the
 *   caller gives the VM up and the run ends in order. A SIGINT between resumes sets the
 *   watchdog's pending flag, read at the start of the next resume and by a poll timer.
 * - SIGTERM, SIGHUP: no listener during a run, so the default action applies: the process
 *   dies at once, even in a CPU loop, and the host-death guards clean up what the script
 *   started (docs/faults.md).
 *
 * Without the binding (or where it would print a deprecation warning) SIGINT goes to an
 * ordinary listener, which vm's breakOnSigint takes off around each resume.
 */
import { Script } from "node:vm";
import { SIGNAL_POLL_MS } from "../constants.js";

interface WatchdogBinding {
  startSigintWatchdog(): boolean;
  stopSigintWatchdog(): boolean;
}

const binding = contextify();
let onSigint: (() => void) | undefined;
let poll: NodeJS.Timeout | undefined;

/**
 * Route SIGINT to `handler` until the returned function is called. After that a SIGINT ends
 * the process at once (Node's default), so call it only as the process is about to end.
 */
export function watchRunSigint(handler: () => void): () => void {
  onSigint = handler;
  if (!binding) {
    process.on("SIGINT", handler);
    return () => {
      onSigint = undefined;
      process.off("SIGINT", handler);
    };
  }
  hold();
  return () => {
    deliverPendingSigint();
    onSigint = undefined;
    letGo();
  };
}

/** Hold the watchdog from now on (idempotent): SIGINT is its signal, not a listener's. */
function hold(): void {
  if (poll || !binding) return;
  binding.startSigintWatchdog();
  poll = setInterval(deliverPendingSigint, SIGNAL_POLL_MS);
  poll.unref(); // the poll must not keep an otherwise finished process alive
}

/** Give the watchdog back: SIGINT is Node's default again. */
function letGo(): void {
  if (!poll || !binding) return;
  clearInterval(poll);
  poll = undefined;
  binding.stopSigintWatchdog();
}

/**
 * Call `fn` (a resume) under the SIGINT watchdog. Throws ERR_SCRIPT_EXECUTION_INTERRUPTED
 * when a SIGINT stopped it: V8 stopped whatever ran at that moment, a host call's JavaScript
 * included (a write to stdout half done), so only a host that owns the process and ends with
 * the run may use this. Returns undefined, without calling `fn`, when a SIGINT came before it
 * could start (handed to the run's handler).
 */
export function resumeUnderSignals<T>(fn: () => T): { value: T } | undefined {
  hold(); // without it each resume would start and join a watchdog thread of its own
  let out: { value: T } | undefined;
  let pending = false;
  underSigintWatchdog(() => {
    // Read the pending flag here, with this call's own watchdog registered (a SIGINT from now
    // on terminates the call): its stop on the way out clears the flag unread.
    pending = takePending();
    if (!pending) out = { value: fn() };
  });
  if (pending) handOver();
  return out;
}

/** A SIGINT that came between resumes, handed to the run's handler now. True when there was one. */
export function deliverPendingSigint(): boolean {
  if (!takePending()) return false;
  handOver();
  return true;
}

/** A SIGINT to the run's handler; with none, what SIGINT's default action does: end the process. */
function handOver(): void {
  if (onSigint) return onSigint();
  letGo();
  process.kill(process.pid, "SIGINT");
}

/** Read and clear the watchdog's pending flag (a nested start/stop pair does both). */
function takePending(): boolean {
  if (!poll || !binding) return false;
  binding.startSigintWatchdog();
  return binding.stopSigintWatchdog();
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
function underSigintWatchdog(fn: () => void): void {
  if (!watchedScript) {
    (globalThis as Record<symbol, unknown>)[WATCHED] = () => watchedCall!();
    watchedScript = new Script(`globalThis[Symbol.for("moonexec.watched")]()`);
  }
  watchedCall = fn;
  try {
    watchedScript.runInThisContext({ breakOnSigint: true });
  } finally {
    watchedCall = undefined;
  }
}

/**
 * Signals while Lua runs on the main thread (`moonexec run`, which owns its process).
 *
 * A resume of a Lua thread is one synchronous call: JavaScript signal listeners cannot run
 * until it returns, and a CPU loop never returns. So Lua runs in *sessions*: a session starts
 * with a resume and lasts while resumes follow each other within SIGNAL_SESSION_IDLE_MS, and
 * until the run ends. During a session:
 *
 * - SIGINT: each resume runs inside vm's breakOnSigint: V8's SIGINT watchdog terminates it,
 *   even inside wasm; the caller gives the VM up and the run ends as interrupted (exit 130,
 *   cleanup in-process). A SIGINT between two resumes is recorded by the watchdog and handed
 *   to the SIGINT listeners before the next resume, or by the session's timer.
 * - SIGTERM, SIGHUP: their listeners are off, so the default action applies and the process
 *   dies at once; the host-death guards (native watchdog, Incus watcher, Docker AutoRemove)
 *   clean up what the script started. Outside sessions (the script has waited a while) the
 *   listeners are on and the run ends in order (exit 143). The shell sees 143 either way.
 *
 * Why sessions, not one switch per resume: breakOnSigint alone starts and joins a watchdog
 * thread on every call and takes the SIGINT listeners off and on (costs in docs/performance-cpu.md);
 * held for the session through the contextify binding's startSigintWatchdog (what Node's
 * REPL uses), each resume's own watchdog only counts up and down. And taking a listener off
 * closes Node's signal handle: a signal that handle caught but the event loop had not yet
 * dispatched is dropped (libuv), so switching listeners on every resume lost SIGTERMs sent to
 * a busy script. Without the binding, each resume pays the full watchdog price.
 */
import { Script } from "node:vm";
import { SIGNAL_SESSION_IDLE_MS } from "../constants.js";

interface WatchdogBinding {
  startSigintWatchdog(): boolean;
  stopSigintWatchdog(): boolean;
}

type Listener = (...args: unknown[]) => void;

/** Signals whose default action (death) applies during a session. */
const FATAL_IN_SESSION = ["SIGTERM", "SIGHUP"] as const;

const binding = contextify();
let active = false;
let saved: Array<[NodeJS.Signals, Listener[]]> = [];
let timer: NodeJS.Timeout | undefined;
let lastResume = 0;

/**
 * Call `fn` (a resume) inside a session. Throws ERR_SCRIPT_EXECUTION_INTERRUPTED when a
 * SIGINT stopped it: V8 stopped whatever ran at that moment, a host call's JavaScript included
 * (a write to stdout half done), so only a host that owns the process and ends with the run
 * may use this.
 */
export function resumeUnderSignals<T>(fn: () => T): T {
  if (!active) begin();
  try {
    return underSigintWatchdog(fn);
  } finally {
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
  for (const l of listenersOf("SIGINT")) l("SIGINT");
  return true;
}

/** End the session (the run ended, or its Lua has been idle a while): the listeners are back. */
export function endSignalSession(): void {
  if (!active) return;
  active = false;
  clearTimeout(timer);
  timer = undefined;
  const pending = binding?.stopSigintWatchdog() ?? false;
  const back = saved;
  saved = [];
  for (const [s, listeners] of back) for (const l of listeners) process.on(s, l);
  if (pending) for (const l of back.find(([s]) => s === "SIGINT")?.[1] ?? []) l("SIGINT");
}

function begin(): void {
  // The SIGINT listeners would take the signal from the watchdog (the handler installed last
  // wins), so they are off too while it is held. Without the binding they stay: vm handles them.
  const off: NodeJS.Signals[] = [...FATAL_IN_SESSION, ...(binding ? (["SIGINT"] as const) : [])];
  saved = off.map((s) => [s, process.rawListeners(s) as Listener[]]);
  for (const s of off) process.removeAllListeners(s);
  binding?.startSigintWatchdog();
  active = true;
  lastResume = Date.now();
  arm(SIGNAL_SESSION_IDLE_MS);
}

function listenersOf(signal: NodeJS.Signals): Listener[] {
  return saved.find(([s]) => s === signal)?.[1] ?? [];
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

/**
 * Tuning constants: sizes and delays chosen for throughput or latency, in one place.
 * Each says why it has its value; the measurements behind them are in docs/.
 */

/** Lua instructions between calls of the host's count hook (where it is on): also how far an outer coroutine runs on before it meets a stop. */
export const HOOK_EVERY = 1000;

/** Longest stretch of Lua without an event-loop turn, where the count hook is on: signals, cancel() and I/O wait at most this long. */
export const SLICE_MS = 50;

/** Idle time after which a run's Lua gives the SIGINT watchdog back (resume-signals.ts): longer than the gaps of a busy I/O loop, short beside a human's Ctrl-C. */
export const SIGNAL_SESSION_IDLE_MS = 20;

/**
 * Tuning constants: sizes and delays chosen for throughput or memory, in one place.
 * Each says why it has its value; the measurements behind them are in docs/performance.md.
 */

/** Unread bytes per stream before a busy script pauses the producer: bounds memory, rarely reached by line-wise output. */
export const STREAM_HIGH_WATER = 4 * 1024 * 1024;

/** A chunk at least this big marks bulk output (pipes deliver up to 64 KiB, Incus 32 KiB messages). */
export const BULK_CHUNK = 16 * 1024;

/** stream:read() without a size: Node's own read size, one host round trip per pipe buffer. */
export const DEFAULT_READ = 64 * 1024;

/** Largest single stream:read(): a bigger request is cut so one Lua string stays a sane size. */
export const MAX_READ = 16 * 1024 * 1024;

/** After waiting for bulk output, a read gathers this much more so the next reads need no wait (each wait costs a Lua yield and resume). */
export const READ_AHEAD = 256 * 1024;

/** How long a read that waited may wait more for READ_AHEAD: short enough that an interactive command never feels it. */
export const COALESCE_MS = 1;

/** Replay ring per stream of a background process: enough recent output to attach() to, bounded because nobody may read it. */
export const DEFAULT_RING_BYTES = 1024 * 1024;

/** One slot of a recycled stdout buffer: what one read asks for, as Node's own reads do. */
export const SLOT = 64 * 1024;

/** Slots per recycled buffer: enough for the read-ahead plus what a script holds, small enough to stay in cache. */
export const SLOTS = 16;

/** stdout bytes after which the next native command reads stdout through a socket pair: below it a pipe is cheaper to make. */
export const BULK_STDOUT = 4 * 1024 * 1024;

/** Live Lua object handles at which the first extra collection is asked for: a few commands never pay for one. */
export const COLLECT_MIN = 128;

/** Largest staging area on the wasm heap kept between pushes: a one-off large push does not pin its memory. */
export const STAGING_KEEP = 1024 * 1024;

/** The block that raises glibc's malloc thresholds: just under glibc's 32 MiB ceiling for the adjustment. */
export const MALLOC_RAISE_BLOCK = 31 * 1024 * 1024;

/** fengari: bytes of Lua strings pushed between minor GCs, so a dead string's memory is reused while still in cache (fengari.ts, collectYoung). */
export const FENGARI_YOUNG_GC_BYTES = 8 * 1024 * 1024;

/** How often a native executor checks whether a lingering process group is empty (its id may then be reused). */
export const GROUP_PRUNE_MS = 1000;

/** Lua instructions between calls of the host's count hook (where it is on): also how far an outer coroutine runs on before it meets a stop. */
export const HOOK_EVERY = 1000;

/** Longest stretch of Lua without an event-loop turn, where the count hook is on: signals, cancel() and I/O wait at most this long. */
export const SLICE_MS = 50;

/** How often `moonexec run` reads the SIGINT watchdog's pending flag while Lua waits (resume-signals.ts): short beside a human's Ctrl-C, rare enough to cost nothing. */
export const SIGNAL_POLL_MS = 20;

/** PATH a pty command is looked up in when its env has none (what execvp falls back to). */
export const DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

/** How long a killed native command may take to be reaped before its terminal is closed regardless. */
export const DISPOSE_WAIT_MS = 2000;

/** What closing a terminal's stdin sends: the line discipline's default EOF character (Ctrl-D). */
export const PTY_EOF = "\x04";

/** Unread output stream:expect matches against at most: bounds the rescans on a chatty stream (older output is consumed). */
export const EXPECT_WINDOW = 1024 * 1024;

/** stream:expect's timeout when the script gives none, seconds: a prompt that never comes must not hang the script. */
export const EXPECT_TIMEOUT = 30;

/** Bytes of the last output an expect error quotes: enough to see a prompt, short enough for one line. */
export const EXPECT_TAIL = 200;

/** The key that detaches the REPL's :shell (Ctrl-], as telnet's escape): a shell and its programs rarely need it. */
export const SHELL_DETACH_KEY = 0x1d;

/** How long a pty command's output is read on after its exit is known, before the host lets its terminal hang up (the last output is in flight). */
export const PTY_DRAIN_MS = 10;

/** Lua stack slots on fengari: its stack grows slowly, so deep recursion at Lua's usual 1e6 takes many seconds to fail. */
export const FENGARI_MAX_STACK = 100_000;

/** Seconds before a container's creation (our clock) from which its daemon's event log is read: room for a remote daemon's clock being behind. */
export const EVENT_CLOCK_SLACK_S = 300;

/**
 * The backend contract: what every executor kind implements (the built-in native, docker,
 * incus and ssh, and an application's own through HostOptions.kinds).
 *
 * Life of a command: config entry → registry → Backend.open() gives an ExecutorBackend
 * → spawn() gives a RunningCommand → its raw output sources feed the generic
 * OutputStreams (src/stream) that Lua reads. Streams the script sees exist before
 * start() because the generic layer (src/process/proc.ts) creates them at exec() time
 * and only attaches the backend's sources when spawn() resolves — so a backend never
 * has to care about early stream access.
 */
import type { ByteSource } from "../stream/byte-source.js";
import type { ExecError } from "../errors.js";

/** What to run. argv is final (already split and whitelisted); env is the complete environment. */
export interface CommandSpec {
  argv: string[];
  /** Working directory inside the target; undefined = the backend's default. */
  cwd?: string;
  /** The complete environment for the command (no inheritance happens below this line). */
  env: Record<string, string>;
  /**
   * Run on a pseudo-terminal of this size: stdout carries everything the terminal shows
   * (stderr is merged by the TTY and stays empty), stdin is the keyboard. TERM is set from
   * `term` unless env names it. Only given to backends whose `terminals` is true.
   */
  pty?: PtySpec;
}

/** Size and type of a command's terminal. */
export interface PtySpec {
  rows: number;
  cols: number;
  term: string;
}

/** How a command ended. */
export interface ExitInfo {
  /** Exit status when it exited normally; for a signal death 128 + signal number. */
  code: number;
  /** Signal name ("SIGKILL") when the command died by a signal, else undefined. */
  signal?: string;
  /** Backend-specific note, e.g. "container was OOM-killed". */
  note?: string;
  /**
   * The command's end was not seen: the connection to the daemon broke (UNAVAILABLE), no
   * answer came in time (TIMEOUT), the container or instance went away (GONE). `code` is
   * then meaningless and wait() reports this error instead.
   */
  error?: ExecError;
}

/** A command that has been started. */
export interface RunningCommand {
  /** Raw bytes of the command's stdout / stderr. They end when the command's output is drained. */
  readonly stdout: ByteSource;
  readonly stderr: ByteSource;
  /** Process id where the backend knows one (native pid, pid inside container), else undefined. */
  readonly pid: number | undefined;
  /** Write bytes to stdin; resolves when accepted (backpressure). Rejects after stdin is closed. */
  writeStdin(data: Uint8Array): Promise<void>;
  /** Send EOF on stdin. Idempotent. */
  closeStdin(): Promise<void>;
  /** Change the terminal's size (commands started with a pty only); the command gets SIGWINCH. */
  resize?(rows: number, cols: number): Promise<void>;
  /** Deliver a signal (number, e.g. 15) to the command — to its whole process group where the backend can. */
  signal(signo: number): Promise<void>;
  /**
   * Resolves once the command has exited AND stdout/stderr have ended (drained),
   * so no output can arrive after a caller learns the exit code. Never rejects:
   * a command whose end was not seen resolves with `error` set.
   */
  readonly exited: Promise<ExitInfo>;
  /**
   * Stop everything this command holds (process tree, exec session, websockets, container
   * side processes). Idempotent; safe to call after exit. After it resolves nothing of
   * the command is left running.
   */
  dispose(): Promise<void>;
}

/** One executor instance, obtained by exec.get(id); released by executor:release(). */
export interface ExecutorBackend {
  /** spawn() honours CommandSpec.pty and its commands offer resize(). Without it, pty = true is refused before anything runs. */
  readonly terminals?: boolean;
  /**
   * Start a command. Rejects (or throws) an ExecError (kind NOT_FOUND, UNAVAILABLE, ...) when it
   * cannot start. May answer synchronously when the command is known to run: the script's
   * start() then returns without a host round trip.
   */
  spawn(spec: CommandSpec): RunningCommand | Promise<RunningCommand>;
  /** Release backend resources (containers created for this executor, connections). Idempotent. */
  release(): Promise<void>;
  /** Optional file transfer (Incus). */
  pushFile?(data: Uint8Array, remotePath: string, opts: { mode?: number; uid?: number; gid?: number }): Promise<void>;
  pullFile?(remotePath: string): Promise<Uint8Array>;
}

/** Result of probing a configured executor (moonexec check). */
export interface ProbeResult {
  ok: boolean;
  /** One line per finding, e.g. "daemon reachable", "image moonexec-test:busybox missing". */
  lines: string[];
}

/** A kind of executor: validates its config entry and opens executors. */
export interface BackendKind<Entry = unknown> {
  /** "exec.native", "exec.docker", "exec.incus" */
  readonly kind: string;
  /** Entry fields this kind accepts beyond the common ones (name, kind, default_work_dir, default_env, command_whitelist). */
  readonly fields: Record<string, FieldType>;
  /** The field a fleet's `hosts:` list sets per member (docs/fleet.md); none: only `count:` fleets. */
  readonly hostField?: string;
  /** Cross-field validation after field types are checked; throw ConfigError naming the field. */
  validate?(entry: Entry, where: string): void;
  open(entry: Entry): Promise<ExecutorBackend>;
  probe?(entry: Entry): Promise<ProbeResult>;
}

export type FieldType =
  | "string"
  | "boolean"
  | "integer"
  | "string[]"
  | "string-map"
  | { enum: readonly string[] };

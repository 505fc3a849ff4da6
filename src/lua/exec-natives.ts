/** Natives behind lua/exec.lua: executors, processes, streams. */
import { ExecError } from "../errors.js";
import type { Registry } from "../registry/registry.js";
import { Executor } from "../registry/executor.js";
import { Proc } from "../process/proc.js";
import { parseExecOptions } from "../process/exec-options.js";
import { signalNumber } from "../process/signals.js";
import { parseFileMode } from "../backend/file-mode.js";
import { OutputStream } from "../stream/output-stream.js";
import type { Args, NativeFn } from "./natives.js";
import type { Handles } from "./handles.js";
import type { LuaValue } from "./values.js";
import { COALESCE_MS, DEFAULT_READ, MAX_READ, READ_AHEAD } from "../constants.js";


/** What a Lua stream object refers to: one reader of one process. */
export class StreamHandle {
  constructor(
    readonly proc: Proc,
    readonly stream: OutputStream,
  ) {}
}

/** What a Lua process object refers to: the process plus its own readers (attach() makes new ones). */
export class ProcView {
  constructor(
    readonly proc: Proc,
    readonly stdout: OutputStream,
    readonly stderr: OutputStream,
  ) {}
  static of(proc: Proc): ProcView {
    return new ProcView(proc, proc.stdout, proc.stderr);
  }
}

export function execNatives(registry: Registry, handles: Handles): Record<string, NativeFn> {
  const executor = (a: Args) => handles.get(a.value(1), Executor, "executor");
  const view = (a: Args) => handles.get(a.value(1), ProcView, "process");
  const proc = (a: Args) => view(a).proc;
  const selector = (a: Args, i: number, what: string) => {
    const v = a.value(i);
    if (typeof v !== "number" && typeof v !== "string") throw new ExecError("INVALID", `${what}: selector must be a pid (number) or a tag (string)`);
    return v;
  };
  const stream = (a: Args) => handles.get(a.value(1), StreamHandle, "stream");

  /**
   * Serve a stream read: at once when data is there, else wait (marking the process as waited
   * on); `topUp`, after a wait, may wait a little longer for more before the attempt.
   */
  const readWith = <T>(ref: StreamHandle, attempt: () => T | undefined, topUp?: () => Promise<void> | undefined): T | Promise<T> => {
    const got = attempt();
    if (got !== undefined) return got;
    if (ref.stream.isClosed) throw new ExecError("CLOSED", `${ref.stream.name} stream is closed`);
    return ref.proc.block(
      (async () => {
        for (;;) {
          await ref.stream.changed();
          await topUp?.();
          if (ref.stream.isClosed) throw new ExecError("CLOSED", `${ref.stream.name} stream is closed`);
          const v = attempt();
          if (v !== undefined) return v;
        }
      })(),
    );
  };
  const answer = <T>(v: T | Promise<T>): unknown[] | Promise<unknown[]> => (v instanceof Promise ? v.then((x) => [x]) : [v]);

  return {
    exec_get: async (a) => {
      const id = a.value(1);
      if (typeof id !== "string") throw new ExecError("INVALID", `exec.get: id must be a string like "local:shell", got ${typeof id}`);
      return [handles.add(await registry.get(id))];
    },

    exec_list: (a) => {
      const pattern = a.value(1);
      if (pattern !== undefined && typeof pattern !== "string") throw new ExecError("INVALID", `exec.list: pattern must be a string like "fleet:*", got ${describe(pattern)}`);
      return [registry.list(pattern)];
    },

    executor_exec: (a) => {
      const ex = executor(a);
      const cmd = a.value(2);
      let command: string | string[];
      if (typeof cmd === "string") command = cmd;
      else if (Array.isArray(cmd) && cmd.length > 0 && cmd.every((w) => typeof w === "string")) command = cmd as string[];
      else if (cmd instanceof Uint8Array) throw new ExecError("INVALID", "cmd: must be valid UTF-8 text");
      else throw new ExecError("INVALID", `cmd: must be a string or a non-empty list of strings, got ${describe(cmd)}`);
      const opts = a.value(3);
      if (opts !== undefined && (typeof opts !== "object" || Array.isArray(opts) || opts instanceof Uint8Array)) {
        throw new ExecError("INVALID", `opts: must be a table, got ${describe(opts)}`);
      }
      const options = parseExecOptions(opts as Record<string, unknown> | undefined);
      const p = ex.exec(command, options);
      if (!options.background) return [handles.add(ProcView.of(p))];
      return Promise.resolve(p.start()).then(() => [handles.add(ProcView.of(p))]); // background: starts at once
    },

    executor_processes: (a) => [
      executor(a)
        .running()
        .map((p) => ({
          pid: p.pid,
          tag: p.tag,
          cmd: p.spec.argv.join(" "),
          started_at: new Date(p.startedAt ?? p.createdAt).toISOString(),
          backend: executor(a).entry.kind,
          background: p.background,
        })),
    ],

    executor_kill: async (a) => {
      const p = executor(a).find(selector(a, 2, "executor:kill"));
      await p.signal(a.value(3) === undefined ? 15 : signalNumber(a.value(3), "executor:kill"));
      return [true];
    },

    executor_attach: (a) => {
      const p = executor(a).find(selector(a, 2, "executor:attach"));
      if (!p.logs) throw new ExecError("INVALID", "executor:attach: only background processes can be attached (exec with {background = true})");
      return [handles.add(new ProcView(p, p.logs.stdout.subscribe(p), p.logs.stderr.subscribe(p)))];
    },

    collect_due: () => [handles.collectDue()],

    free: (a) => {
      const h = a.value(1);
      if (typeof h === "number") handles.delete(h);
      return [];
    },

    executor_release: async (a) => {
      await executor(a).release();
      return [true];
    },

    executor_push_file: async (a) => {
      const ex = executor(a);
      if (!ex.backend.pushFile) throw new ExecError("INVALID", `executor ${ex.id} (${ex.entry.kind}) does not support push_file`);
      const data = a.bytes(2, "push_file: content");
      const remote = a.value(3);
      if (typeof remote !== "string") throw new ExecError("INVALID", "push_file: remote_path must be a string");
      const raw = a.value(4) ?? {};
      if (typeof raw !== "object" || Array.isArray(raw) || raw instanceof Uint8Array) throw new ExecError("INVALID", "push_file: opts must be a table");
      const o = raw as Record<string, LuaValue>;
      const num = (k: string) => {
        const v = Object.hasOwn(o, k) ? o[k] : undefined;
        if (v === undefined) return undefined;
        // Incus takes a 32-bit id; 4294967295 is (uid_t)-1, "no change".
        if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 4294967294) {
          throw new ExecError("INVALID", `push_file: opts.${k} must be a whole number between 0 and 4294967294, got ${typeof v === "number" ? String(v) : typeof v}`);
        }
        return v;
      };
      await ex.backend.pushFile(data, remote, { mode: parseFileMode(o.mode), uid: num("uid"), gid: num("gid") });
      return [true];
    },

    executor_pull_file: async (a) => {
      const ex = executor(a);
      if (!ex.backend.pullFile) throw new ExecError("INVALID", `executor ${ex.id} (${ex.entry.kind}) does not support pull_file`);
      const remote = a.value(2);
      if (typeof remote !== "string") throw new ExecError("INVALID", "pull_file: remote_path must be a string");
      return [await ex.backend.pullFile(remote)];
    },

    proc_start: (a) => {
      const starting = proc(a).start(); // undefined: running already, answer without waiting
      return starting ? starting.then(() => [true]) : [true];
    },

    proc_wait: async (a) => {
      const e = await proc(a).wait();
      if (e.timedOut) return [e.code, "TIMEOUT", "process timed out and was killed"];
      return [e.code];
    },

    proc_pid: (a) => [proc(a).pid],

    proc_signal: async (a) => {
      await proc(a).signal(signalNumber(a.value(2), "proc:signal"));
      return [true];
    },

    proc_kill: async (a) => {
      await proc(a).signal(9);
      return [true];
    },

    proc_write_stdin: (a) => {
      const p = proc(a);
      return p.writeStdin(a.bytes(2, "proc:write_stdin: data")).then(() => [true]);
    },

    proc_close_stdin: async (a) => {
      await proc(a).closeStdin();
      return [true];
    },

    proc_close: async (a) => {
      await proc(a).close(a.value(2) === true);
      return [true];
    },

    proc_signal_name: (a) => [proc(a).signalName()],

    proc_stream: (a) => {
      const v = view(a);
      return [handles.add(new StreamHandle(v.proc, a.value(2) === "stderr" ? v.stderr : v.stdout))];
    },

    proc_info: (a) => {
      const p = proc(a);
      return [{ pid: p.pid, tag: p.tag, state: p.state, background: p.background, exit_code: p.exit?.code, signal: p.exit?.signal, timed_out: p.exit?.timedOut, note: p.exit?.note }];
    },

    stream_read: (a) => {
      const ref = stream(a);
      const n = a.value(2) ?? DEFAULT_READ;
      if (typeof n !== "number" || !Number.isInteger(n) || n <= 0) throw new ExecError("INVALID", "stream:read: size must be a positive integer");
      const size = Math.min(n, MAX_READ);
      const s = ref.stream;
      // A read that had to wait for bulk output waits up to COALESCE_MS more, for a full `size`
      // and some read-ahead: one host round trip serves several reads.
      const want = Math.max(size, READ_AHEAD);
      const topUp = () => (s.bulk && s.buffered < want ? s.fill(want, COALESCE_MS) : undefined);
      return answer(readWith(ref, () => s.tryRead(size), topUp));
    },

    stream_read_line: (a) => {
      const ref = stream(a);
      return answer(readWith(ref, () => ref.stream.tryReadLine()));
    },

    stream_read_all: (a) => {
      const ref = stream(a);
      return answer(readWith(ref, () => ref.stream.tryReadAll()));
    },

    stream_close: (a) => {
      stream(a).stream.close();
      return [true];
    },
  };
}

function describe(v: LuaValue): string {
  if (v === undefined) return "nil";
  if (Array.isArray(v)) return "a list with non-string items";
  if (typeof v === "object") return "a table";
  return typeof v;
}

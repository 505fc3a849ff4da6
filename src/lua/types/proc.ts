/** exec.process: a command as the script holds it (lua/exec.lua's Process). */
import type { Proc } from "../../process/proc.js";
import { signalNumber } from "../../process/signals.js";
import type { OutputStream } from "../../stream/output-stream.js";
import type { HostFn } from "../host-functions.js";
import type { Handles } from "../handles.js";
import { StreamHandle } from "./stream.js";

/** What a Lua process object refers to: the process plus its own readers (attach() makes new ones). */
export class ProcHandle {
  constructor(
    readonly proc: Proc,
    readonly stdout: OutputStream,
    readonly stderr: OutputStream,
  ) {}
  static of(proc: Proc): ProcHandle {
    return new ProcHandle(proc, proc.stdout, proc.stderr);
  }
}

export function procFunctions(handles: Handles): Record<string, HostFn> {
  const handle = (a: Parameters<HostFn>[0]) => handles.get(a.value(1), ProcHandle, "process");
  const proc = (a: Parameters<HostFn>[0]) => handle(a).proc;

  return {
    proc_start: (a) => {
      const starting = proc(a).start(); // undefined: running already, answer without waiting
      return starting ? starting.then(() => [true]) : [true];
    },

    // exit_code, and the problem that came with it (a timeout) as kind and message.
    proc_wait: async (a) => {
      const e = await proc(a).wait();
      return e.problem ? [e.code, e.problem.kind, e.problem.message] : [e.code];
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

    proc_resize: async (a) => {
      await proc(a).resize(a.value(2) as number, a.value(3) as number);
      return [true];
    },

    proc_signal_name: (a) => [proc(a).signalName()],

    proc_stream: (a) => {
      const h = handle(a);
      return [handles.add(new StreamHandle(h.proc, a.value(2) === "stderr" ? h.stderr : h.stdout))];
    },

    proc_info: (a) => {
      const p = proc(a);
      return [{ pid: p.pid, tag: p.tag, state: p.state, background: p.background, exit_code: p.exit?.code, signal: p.exit?.signal, timed_out: p.exit?.timedOut, note: p.exit?.note }];
    },
  };
}

/** exec.stream: one reader of one process's stdout or stderr (lua/exec.lua's Stream). */
import { ExecError } from "../../errors.js";
import type { Proc } from "../../process/proc.js";
import type { OutputStream } from "../../stream/output-stream.js";
import { COALESCE_MS, DEFAULT_READ, MAX_READ, READ_AHEAD } from "../../constants.js";
import type { HostFn } from "../host-functions.js";
import type { Handles } from "../handles.js";

/** What a Lua stream object refers to: one reader of one process. */
export class StreamHandle {
  constructor(
    readonly proc: Proc,
    readonly stream: OutputStream,
  ) {}
}

export function streamFunctions(handles: Handles): Record<string, HostFn> {
  const stream = (a: Parameters<HostFn>[0]) => handles.get(a.value(1), StreamHandle, "stream");

  /**
   * Serve a stream read: at once when data is there, else wait (the script waits on the
   * process meanwhile); `topUp`, after a wait, may wait a little longer for more before the attempt.
   */
  const readWith = <T>(ref: StreamHandle, attempt: () => T | undefined, topUp?: () => Promise<void> | undefined): T | Promise<T> => {
    const got = attempt();
    if (got !== undefined) return got;
    if (ref.stream.isClosed) throw new ExecError("CLOSED", `${ref.stream.name} stream is closed`);
    return ref.proc.waitedOn(
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

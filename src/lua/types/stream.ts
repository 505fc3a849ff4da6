/** exec.stream: one reader of one process's stdout or stderr (lua/exec.lua's Stream). */
import { ExecError } from "../../errors.js";
import type { Proc } from "../../process/proc.js";
import type { OutputStream } from "../../stream/output-stream.js";
import { COALESCE_MS, DEFAULT_READ, EXPECT_TAIL, EXPECT_TIMEOUT, EXPECT_WINDOW, MAX_READ, READ_AHEAD } from "../../constants.js";
import { checkTimeout } from "../../process/timeout.js";
import { describeTail } from "../../stream/output-tail.js";
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

    /**
     * stream:expect's host half (the match itself is Lua's string.find, in lua/exec.lua):
     * (pattern, timeout, seen, deadline) → unread output, the deadline and the bytes arrived so far, once more than
     * `seen` bytes have ever arrived; a TIMEOUT or CLOSED error quoting the last output when
     * the deadline passes or the stream ends first.
     */
    stream_expect_peek: (a) => {
      const ref = stream(a);
      const pattern = a.value(2);
      if (typeof pattern !== "string" && !(pattern instanceof Uint8Array)) throw new ExecError("INVALID", `stream:expect: pattern must be a string (a Lua pattern), got ${pattern === undefined || pattern === null ? "nil" : typeof pattern}`);
      const seconds = a.value(3) === undefined || a.value(3) === null ? EXPECT_TIMEOUT : checkTimeout(a.value(3), "stream:expect: timeout");
      const seen = a.value(4) as number;
      const deadline = (a.value(5) as number | undefined) ?? Date.now() + seconds * 1000;
      const s = ref.stream;
      const shown = () => describeTail(Buffer.from(pattern), EXPECT_TAIL);
      const attempt = (): [unknown, number, number] | undefined => {
        if (s.isClosed) throw new ExecError("CLOSED", `${s.name} stream is closed`);
        if (s.arrived > seen && s.buffered > 0) return [s.peek(EXPECT_WINDOW), deadline, s.arrived];
        if (s.sourceEnded) {
          const last = describeTail(s.peek(EXPECT_WINDOW).join(), EXPECT_TAIL);
          if (s.error) throw new ExecError(s.error.kind, `stream:expect: ${s.error.message} before ${shown()} matched; last output: ${last}`);
          throw new ExecError("CLOSED", `stream:expect: ${s.name} ended before ${shown()} matched; last output: ${last}`);
        }
        if (Date.now() >= deadline) {
          throw new ExecError("TIMEOUT", `stream:expect: no match for ${shown()} within ${seconds} s; last output: ${describeTail(s.peek(EXPECT_WINDOW).join(), EXPECT_TAIL)}`);
        }
        return undefined;
      };
      const now = attempt();
      if (now) return now;
      return ref.proc.waitedOn(
        new Promise<[unknown, number, number]>((resolve, reject) => {
          let settled = false;
          let timer: NodeJS.Timeout | undefined;
          const check = (): void => {
            if (settled) return;
            clearTimeout(timer);
            try {
              const v = attempt();
              if (v) {
                settled = true;
                return resolve(v);
              }
            } catch (e) {
              settled = true;
              return reject(e);
            }
            timer = setTimeout(check, Math.max(1, deadline - Date.now()));
            void s.changed().then(check);
          };
          timer = setTimeout(check, Math.max(1, deadline - Date.now()));
          void s.changed().then(check);
        }),
      );
    },

    stream_expect_skip: (a) => {
      stream(a).stream.skip(a.value(2) as number);
      return [true];
    },

    stream_close: (a) => {
      stream(a).stream.close();
      return [true];
    },
  };
}

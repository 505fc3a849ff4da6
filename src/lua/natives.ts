/**
 * How a TypeScript function becomes a Lua-callable native.
 *
 * Natives read their arguments raw (binary-safe) and answer with the convention the
 * prelude's `settle` understands: (true, values...) | (false, kind, message) |
 * (AWAIT, id). A native that returns a Promise answers AWAIT; the Lua side yields,
 * and the driver resumes it with the settled answer once the promise is done.
 */
import { decorateFunction, LuaRawResult, type LuaThread } from "./wasmoon.js";
import { ExecError, toExecError } from "../errors.js";
import type { LuaStack, LuaValue } from "./values.js";

/** The marker yielded for host waits. NUL-prefixed so no ordinary script value equals it. */
export const AWAIT = "\0moonexec.await";

export type Outcome = { ok: true; values: unknown[] } | { ok: false; error: ExecError };

export class Args {
  constructor(
    private readonly stack: LuaStack,
    /** The calling Lua thread (for natives that work on the stack directly). */
    readonly L: number,
    readonly count: number,
  ) {}

  value(i: number): LuaValue {
    return i <= this.count ? this.stack.read(this.L, i) : undefined;
  }

  /** A string argument as raw bytes; anything else → INVALID naming the argument. */
  bytes(i: number, name: string): Buffer {
    const b = i <= this.count ? this.stack.bytes(this.L, i) : undefined;
    if (b === undefined) throw new ExecError("INVALID", `${name}: must be a string`);
    return b;
  }

  integer(i: number, name: string): number {
    const v = this.value(i);
    if (typeof v !== "number" || !Number.isInteger(v)) throw new ExecError("INVALID", `${name}: must be an integer, got ${typeof v}`);
    return v;
  }
}

export type NativeFn = (args: Args) => unknown[] | Promise<unknown[]>;

/** Pending host waits, keyed by the id the Lua side yields. */
export class PendingTable {
  private next = 1;
  private readonly map = new Map<number, Promise<Outcome>>();

  add(p: Promise<unknown[]>): number {
    const id = this.next++;
    this.map.set(
      id,
      p.then(
        (values): Outcome => ({ ok: true, values }),
        (e): Outcome => ({ ok: false, error: toExecError(e) }),
      ),
    );
    return id;
  }

  take(id: number): Promise<Outcome> | undefined {
    const p = this.map.get(id);
    this.map.delete(id);
    return p;
  }
}

export function pushOutcome(stack: LuaStack, L: number, outcome: Outcome): number {
  const lua = stack.lua;
  if (outcome.ok) {
    lua.lua_checkstack(L, outcome.values.length + 4);
    lua.lua_pushboolean(L, 1);
    for (const v of outcome.values) stack.push(L, v);
    return outcome.values.length + 1;
  }
  lua.lua_pushboolean(L, 0);
  stack.push(L, outcome.error.kind);
  stack.push(L, outcome.error.message);
  return 3;
}

export function makeNative(stack: LuaStack, pending: PendingTable, fn: NativeFn) {
  return decorateFunction(
    (thread: LuaThread, argc: number) => {
      const L = thread.address;
      let result: unknown[] | Promise<unknown[]>;
      try {
        result = fn(new Args(stack, L, argc));
      } catch (e) {
        return new LuaRawResult(pushOutcome(stack, L, { ok: false, error: toExecError(e) }));
      }
      if (result instanceof Promise) {
        stack.push(L, AWAIT);
        stack.push(L, pending.add(result));
        return new LuaRawResult(2);
      }
      return new LuaRawResult(pushOutcome(stack, L, { ok: true, values: result }));
    },
    { receiveThread: true, receiveArgsQuantity: true },
  );
}

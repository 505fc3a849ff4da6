/**
 * How a TypeScript function becomes a host function that Lua calls (a C function to Lua).
 *
 * Host functions read their arguments raw (binary-safe) and answer with the convention the
 * prelude's `settle` understands: (true, values...) | (false, kind, message) |
 * (AWAIT, id). A host function that returns a Promise answers AWAIT; the Lua side yields,
 * and the driver resumes it with the settled answer once the promise is done.
 */
import { ExecError, toExecError } from "../errors.js";
import { LuaCFunction, type LuaStack, type LuaValue } from "./values.js";
import type { LuaState } from "./engine/engine.js";

/** The marker yielded for host waits. NUL-prefixed so no ordinary script value equals it. */
export const AWAIT = "\0moonexec.await";
export const AWAIT_BYTES = Buffer.from(AWAIT);
/** Passed up through user coroutines when one paused for a time slice. */
export const SLICE = "\0moonexec.slice";
export const SLICE_BYTES = Buffer.from(SLICE);

export type Outcome = { ok: true; values: unknown[] } | { ok: false; error: ExecError };

export class Args {
  constructor(
    private readonly stack: LuaStack,
    /** The calling Lua thread (for host functions that work on the stack directly). */
    readonly L: LuaState,
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

export type HostFn = (args: Args) => unknown[] | Promise<unknown[]>;

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

export function pushOutcome(stack: LuaStack, L: LuaState, outcome: Outcome): number {
  const lua = stack.lua;
  if (outcome.ok) {
    lua.checkstack(L, outcome.values.length + 4);
    lua.pushboolean(L, true);
    for (const v of outcome.values) stack.push(L, v);
    return outcome.values.length + 1;
  }
  lua.pushboolean(L, false);
  stack.push(L, outcome.error.kind);
  stack.push(L, outcome.error.message);
  return 3;
}

/**
 * The host functions of one host, callable from Lua: each is pushed as a function the engine
 * routes to `call` with its index here (on wasmoon, one C function whose upvalue is the index:
 * none of wasmoon's per-call wrapping).
 */
export class HostFunctionTable {
  private readonly fns: HostFn[] = [];

  constructor(
    private readonly stack: LuaStack,
    private readonly pending: PendingTable,
  ) {
    stack.lua.setHostDispatcher((L, index) => this.call(L, index));
  }

  /** A value to push (in a table or alone) that Lua calls as a function. */
  add(fn: HostFn): LuaCFunction {
    this.fns.push(fn);
    return new LuaCFunction(this.fns.length - 1);
  }

  private call(L: LuaState, index: number): number {
    const { stack } = this;
    const fn = this.fns[index]!;
    try {
      const result = fn(new Args(stack, L, stack.lua.gettop(L)));
      if (result instanceof Promise) {
        stack.pushBytes(L, AWAIT_BYTES);
        stack.push(L, this.pending.add(result));
        return 2;
      }
      return pushOutcome(stack, L, { ok: true, values: result });
    } catch (e) {
      if (stack.lua.isUnwind(e)) throw e; // a Lua error unwinding: not ours to stop
      // The function failed, or its answer could not be pushed: answer with the error.
      return pushOutcome(stack, L, { ok: false, error: toExecError(e) });
    }
  }
}

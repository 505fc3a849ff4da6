/**
 * Runs a Lua thread to completion, serving its host waits.
 *
 * wasmoon's own run loop awaits promises yielded by `p:await()`, which breaks inside
 * user coroutines. Here the prelude passes host waits up as (AWAIT, id) yields, so this
 * loop is the single place where the script blocks. It also enforces the time limit
 * (a count hook yields or errors when the deadline passes, so pcall cannot swallow it)
 * and gives the event loop a turn every few milliseconds so SIGINT is seen during
 * CPU-bound Lua.
 */
import { LuaReturn, LuaEventMasks, type LuaThread } from "./wasmoon.js";
import type { LuaStack, LuaValue } from "./values.js";
import { AWAIT, pushOutcome, type PendingTable, type Outcome } from "./natives.js";

/** The script ended on purpose (os.exit) or was stopped (limit, SIGINT). */
export class ScriptStop extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly kind: "exit" | "time-limit" | "interrupted" | "disposed",
  ) {
    super(message);
    this.name = "ScriptStop";
  }
}

/** A Lua error with its traceback. */
export class LuaScriptError extends Error {
  constructor(
    message: string,
    readonly traceback: string,
  ) {
    super(message);
    this.name = "LuaScriptError";
  }
}

const HOOK_EVERY = 20_000; // instructions between hook calls
const SLICE_MS = 50; // longest stretch of Lua without an event-loop turn

export class Driver {
  private stopReason: ScriptStop | undefined;
  private wakeStop: (() => void) | undefined;
  private stopped!: Promise<void>;
  private deadline = Infinity;
  private sliceStart = 0;
  private hookPtr = 0;
  private runningL = 0;

  constructor(
    private readonly stack: LuaStack,
    private readonly pending: PendingTable,
    private readonly timeLimitSeconds?: number,
  ) {
    this.armStop();
  }

  private armStop(): void {
    this.stopReason = undefined;
    this.stopped = new Promise((resolve) => (this.wakeStop = resolve));
  }

  get stopping(): ScriptStop | undefined {
    return this.stopReason;
  }

  stop(reason: ScriptStop): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    this.wakeStop?.();
  }

  private installHook(L: number): void {
    const lua = this.stack.lua;
    const m = (lua as any).module;
    if (!this.hookPtr) {
      this.hookPtr = m.addFunction((hookL: number) => {
        const now = Date.now();
        if (now > this.deadline) this.stop(new ScriptStop(`time limit of ${this.timeLimitSeconds}s exceeded`, 1, "time-limit"));
        if (!this.stopReason && now - this.sliceStart < SLICE_MS) return;
        if (hookL === this.runningL && lua.lua_isyieldable(hookL)) {
          lua.lua_yield(hookL, 0); // back to the driver loop (count hooks may yield with 0 values)
        } else if (this.stopReason) {
          this.stack.push(hookL, this.stopReason.message);
          lua.lua_error(hookL);
        }
      }, "vii");
    }
    lua.lua_sethook(L, this.hookPtr, LuaEventMasks.Count, HOOK_EVERY);
  }

  /** Resume `thread` (with nargs already pushed) until it returns; returns its results. */
  async run(thread: LuaThread, nargs: number, keep?: (L: number, count: number) => void): Promise<LuaValue[]> {
    const lua = this.stack.lua;
    const L = thread.address;
    const outer = this.runningL;
    this.runningL = L;
    if (outer === 0) {
      // A time limit or an interrupt ends one top-level run (a script, a REPL line, a plugin
      // call); the next run starts fresh. Exit and dispose are final.
      const k = this.stopReason?.kind;
      if (k === "time-limit" || k === "interrupted") this.armStop();
      if (this.timeLimitSeconds) this.deadline = Date.now() + this.timeLimitSeconds * 1000;
    }
    this.installHook(L);
    try {
      this.sliceStart = Date.now();
      let r = thread.resume(nargs);
      for (;;) {
        if (r.result === LuaReturn.Ok) {
          const out: LuaValue[] = [];
          const top = lua.lua_gettop(L);
          for (let i = top - r.resultCount + 1; i <= top; i++) out.push(this.stack.read(L, i));
          keep?.(L, r.resultCount);
          lua.lua_settop(L, 0);
          return out;
        }
        if (r.result !== LuaReturn.Yield) throw this.errorFrom(L, r.result);
        const n = r.resultCount;
        let awaitId: number | undefined;
        if (n === 2 && this.stack.read(L, -2) === AWAIT) awaitId = this.stack.read(L, -1) as number;
        lua.lua_settop(L, -n - 1);
        if (this.stopReason) throw this.stopReason;
        let nres = 0;
        if (awaitId !== undefined) {
          const p = this.pending.take(awaitId);
          if (!p) throw new LuaScriptError("internal error: unknown host wait", "");
          const outcome = await this.until(p);
          nres = pushOutcome(this.stack, L, outcome);
        } else if (n === 0) {
          await new Promise((resolve) => setImmediate(resolve)); // time slice
          if (this.stopReason) throw this.stopReason;
        } else {
          throw new LuaScriptError("attempt to yield from outside a coroutine", "");
        }
        this.sliceStart = Date.now();
        r = thread.resume(nres);
      }
    } finally {
      this.runningL = outer;
    }
  }

  private async until(p: Promise<Outcome>): Promise<Outcome> {
    const timers: NodeJS.Timeout[] = [];
    const races: Promise<unknown>[] = [p, this.stopped];
    if (this.deadline !== Infinity) {
      races.push(new Promise((resolve) => timers.push(setTimeout(resolve, Math.max(0, this.deadline - Date.now())))));
    }
    try {
      const winner = await Promise.race(races);
      if (winner === undefined && Date.now() >= this.deadline) {
        this.stop(new ScriptStop(`time limit of ${this.timeLimitSeconds}s exceeded`, 1, "time-limit"));
      }
      if (this.stopReason) throw this.stopReason;
      return winner as Outcome;
    } finally {
      timers.forEach(clearTimeout);
    }
  }

  private errorFrom(L: number, code: LuaReturn): Error {
    const lua = this.stack.lua;
    if (this.stopReason) return this.stopReason;
    if (code === LuaReturn.ErrorMem) return new LuaScriptError("memory limit exceeded (not enough memory)", "");
    const message = lua.luaL_tolstring(L, -1, null); // honours __tostring
    lua.lua_settop(L, -2);
    lua.luaL_traceback(L, L, null, 0);
    const traceback = lua.lua_tolstring(L, -1, null);
    lua.lua_settop(L, -2);
    return new LuaScriptError(message, traceback);
  }
}

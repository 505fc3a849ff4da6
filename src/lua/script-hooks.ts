/**
 * The script's `debug.sethook`, virtualised. A Lua thread has one hook; here it is always the
 * driver's C hook, installed with the union of what the host needs (its count hook for time
 * slices and limits) and what the script asked for on that thread. The C hook calls
 * `dispatch` first; the prelude's Lua dispatcher then calls the script's hook function (and
 * hides events inside host functions). So a script can neither remove nor see the host's
 * hook, and its own count cannot slow the host's checks (the smaller count wins; the
 * dispatcher counts the script's own).
 */
import { LuaEventMasks, LUA_REGISTRYINDEX, allowHookKnown, getAllowHook, heap32, luaCall, setAllowHook } from "./wasmoon.js";
import { ExecError } from "../errors.js";
import type { LuaStack } from "./values.js";
import type { HostFn } from "./host-functions.js";

const EVENT_NAMES = ["call", "return", "line", "count", "tail call"];
const HOOK_COUNT = 3; // lua_Debug.event of a count hook
const CURRENTLINE_OFFSET = 24; // lua_Debug.currentline on wasm32
const LETTERS: Record<string, number> = { c: LuaEventMasks.Call, r: LuaEventMasks.Ret, l: LuaEventMasks.Line };

interface Wanted {
  mask: number;
  count: number;
}

export class ScriptHooks {
  private dispatcherRef = 0;
  private used = false;
  private host: Wanted = { mask: 0, count: 0 };
  /**
   * Threads hooked on every instruction to unwind a stop. An entry outlives its run: the
   * thread, if it lives on, is set back the next time its hook fires; one that was collected
   * leaves a number here until its address is reused and fires (see unhurry).
   */
  private readonly hurried = new Set<number>();
  /** Threads (addresses) on which the script set a hook. */
  private readonly script = new Map<number, Wanted>();
  /** Threads running a script hook now: their events go to the host only. */
  private readonly inHook = new Set<number>();
  /** Whether the lua_State layout lets hooks be switched back on from inside a hook (see probe). */
  allowHook = false;
  private probed = false;

  constructor(
    private readonly stack: LuaStack,
    /** The driver's C hook (a wasm table index), made on first use. */
    private readonly hookPointer: () => number,
  ) {}

  /** Check the lua_State layout once, on thread L outside any hook. */
  probe(L: number): void {
    if (this.probed) return;
    this.probed = true;
    this.allowHook = allowHookKnown(this.stack.lua, L);
  }

  /** The prelude's dispatcher, kept in the registry. */
  setDispatcher(ref: number): void {
    this.dispatcherRef = ref;
  }

  /** The host's own needs, applied to thread L (and remembered for threads the script hooks later). */
  hostHook(L: number, mask: number, count: number): void {
    this.host = { mask: count > 0 ? mask | LuaEventMasks.Count : mask, count };
    this.hurried.delete(L);
    this.apply(L);
  }

  /** Hook thread L on every instruction (a stop unwinding it). */
  hurry(L: number): void {
    if (this.hurried.has(L)) return;
    this.hurried.add(L);
    this.apply(L);
  }

  /** Thread L back to the host's usual count, if a stop had hurried it. */
  unhurry(L: number): void {
    if (this.hurried.size && this.hurried.delete(L)) this.apply(L);
  }

  /** debug.sethook for thread L: mask letters "crl" and a count (0: none). */
  scriptHook(L: number, letters: string, count: number): void {
    let mask = 0;
    for (const ch of letters) mask |= LETTERS[ch] ?? 0;
    if (count > 0) mask |= LuaEventMasks.Count;
    if (mask === 0) this.script.delete(L);
    else {
      this.script.set(L, { mask, count });
      this.used = true;
    }
    this.apply(L);
  }

  private apply(L: number): void {
    const s = this.script.get(L);
    const host = this.hurried.has(L) ? { mask: LuaEventMasks.Count, count: 1 } : this.host;
    const mask = host.mask | (s?.mask ?? 0);
    let count = host.count;
    if (s && s.count > 0) count = count > 0 ? Math.min(count, s.count) : s.count;
    if (mask === 0) this.stack.lua.lua_sethook(L, 0 as never, 0, 0);
    else this.stack.lua.lua_sethook(L, this.hookPointer() as never, mask, count);
  }

  /**
   * The first thing the C hook does: show the event to the script's hook (the Lua dispatcher
   * decides whether this thread's hook wants it). Returns true when the event is not a count
   * event, which the host has nothing to do with.
   */
  dispatch(L: number, ar: number): boolean {
    const lua = this.stack.lua;
    const event = heap32(lua)[ar >> 2]!;
    if (this.used && this.dispatcherRef && !this.inHook.has(L)) {
      lua.lua_rawgeti(L, LUA_REGISTRYINDEX, BigInt(this.dispatcherRef));
      this.pushName(L, event);
      if (event === 2) this.stack.api.lua_pushinteger(L, BigInt(heap32(lua)[(ar + CURRENTLINE_OFFSET) >> 2]!));
      else this.stack.api.lua_pushnil(L);
      this.stack.api.lua_pushinteger(L, BigInt(event === HOOK_COUNT ? lua.lua_gethookcount(L) : 0));
      // Lua runs a hook with hooks off; the script's hook must stay under the host's count
      // hook (an endless hook function would escape the limits), so they go back on for it.
      const reopen = this.allowHook && !getAllowHook(lua, L);
      this.inHook.add(L);
      if (reopen) setAllowHook(lua, L, true);
      try {
        luaCall(lua, L, 3, 0); // errors from the script's hook propagate, as in Lua
      } finally {
        this.inHook.delete(L);
        if (reopen) setAllowHook(lua, L, false);
      }
    }
    return event !== HOOK_COUNT;
  }

  private pushName(L: number, event: number): void {
    const name = EVENT_NAMES[event] ?? "count";
    this.stack.pushBytes(L, Buffer.from(name));
  }
}

/** The native behind the prelude's debug.sethook: (thread, mask letters, count). */
export function scriptHookNatives(stack: LuaStack, hooks: () => ScriptHooks): Record<string, HostFn> {
  return {
    set_script_hook: (a) => {
      const L = stack.lua.lua_tothread(a.L, 1);
      if (!L) throw new ExecError("INVALID", "sethook: thread expected");
      const letters = a.value(2);
      const count = a.value(3);
      if (typeof letters !== "string" || typeof count !== "number" || !Number.isInteger(count)) {
        throw new ExecError("INVALID", "sethook: mask must be a string and count an integer");
      }
      hooks().scriptHook(L, letters, Math.min(count, 0x7fffffff));
      return [true];
    },
  };
}

/**
 * The script's `debug.sethook`, virtualised. A Lua thread has one hook; here it is always the
 * driver's C hook, installed with the union of what the host needs (its count hook for time
 * slices and limits) and what the script asked for on that thread. The C hook calls
 * `dispatch` first; the prelude's Lua dispatcher then calls the script's hook function (and
 * hides events inside host functions). So a script can neither remove nor see the host's
 * hook, and its own count cannot slow the host's checks (the smaller count wins; the
 * dispatcher counts the script's own).
 */
import { LuaEventMasks, LUA_REGISTRYINDEX } from "./wasmoon.js";
import { ExecError } from "../errors.js";
import type { LuaStack } from "./values.js";
import type { HostFn } from "./host-functions.js";

const EVENT_NAMES = ["call", "return", "line", "count", "tail call"];
const HOOK_COUNT = 3; // lua_Debug.event of a count hook
const CURRENTLINE_OFFSET = 24; // lua_Debug.currentline on wasm32
const ALLOWHOOK_OFFSET = 7; // lua_State.allowhook on wasm32 (after next, tt, marked, status)
const LETTERS: Record<string, number> = { c: LuaEventMasks.Call, r: LuaEventMasks.Ret, l: LuaEventMasks.Line };

interface Wanted {
  mask: number;
  count: number;
}

export class ScriptHooks {
  private dispatcherRef = 0;
  private used = false;
  private host: Wanted = { mask: 0, count: 0 };
  /** Threads whose host count differs from the default for now (a stop unwinding them). */
  private readonly hostOn = new Map<number, number>();
  /** Threads (addresses) on which the script set a hook. */
  private readonly script = new Map<number, Wanted>();
  /** Threads running a script hook now: their events go to the host only. */
  private readonly inHook = new Set<number>();

  constructor(
    private readonly stack: LuaStack,
    /** The driver's C hook (a wasm table index), made on first use. */
    private readonly hookPointer: () => number,
  ) {}

  /** The prelude's dispatcher, kept in the registry. */
  setDispatcher(ref: number): void {
    this.dispatcherRef = ref;
  }

  /** The host's own needs, applied to thread L (and remembered for threads the script hooks later). */
  hostHook(L: number, mask: number, count: number): void {
    this.host = { mask: count > 0 ? mask | LuaEventMasks.Count : mask, count };
    this.hostOn.delete(L);
    this.apply(L);
  }

  /** The host's count hook on thread L alone (a stop unwinding it); undefined: back to the default. */
  hostHookOn(L: number, count: number | undefined): void {
    if (count === undefined) this.hostOn.delete(L);
    else this.hostOn.set(L, count);
    this.apply(L);
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
    const own = this.hostOn.get(L);
    const host = own === undefined ? this.host : { mask: LuaEventMasks.Count, count: own };
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
    const m = (this.stack.lua as any).module;
    const event: number = m.HEAP32[ar >> 2];
    if (this.used && this.dispatcherRef && !this.inHook.has(L)) {
      const lua = this.stack.lua;
      lua.lua_rawgeti(L, LUA_REGISTRYINDEX, BigInt(this.dispatcherRef));
      this.pushName(L, event);
      if (event === 2) this.stack.api.lua_pushinteger(L, BigInt(m.HEAP32[(ar + CURRENTLINE_OFFSET) >> 2]));
      else this.stack.api.lua_pushnil(L);
      this.stack.api.lua_pushinteger(L, BigInt(event === HOOK_COUNT ? lua.lua_gethookcount(L) : 0));
      // Lua runs a hook with hooks off; the script's hook must stay under the host's count
      // hook (an endless hook function would escape the limits), so they go back on for it.
      const reopen = m.HEAPU8[L + ALLOWHOOK_OFFSET] === 0;
      this.inHook.add(L);
      if (reopen) m.HEAPU8[L + ALLOWHOOK_OFFSET] = 1;
      try {
        m._lua_callk(L, 3, 0, 0, 0); // errors from the script's hook propagate, as in Lua
      } finally {
        this.inHook.delete(L);
        if (reopen) m.HEAPU8[L + ALLOWHOOK_OFFSET] = 0;
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

/**
 * The script's `debug.sethook`, virtualised. A Lua thread has one hook; here it is always the
 * driver's C hook, installed with the union of what the host needs (its count hook for time
 * slices and limits) and what the script asked for on that thread. The C hook calls
 * `dispatch` first; the prelude's Lua dispatcher then calls the script's hook function (and
 * hides events inside host functions). So a script can neither remove nor see the host's
 * hook, and its own count cannot slow the host's checks (the smaller count wins; the
 * dispatcher counts the script's own).
 */
import { HookEvent, HookMask, type LuaState } from "./engine/engine.js";
import { ExecError } from "../errors.js";
import type { LuaStack } from "./values.js";
import type { HostFn } from "./host-functions.js";

const EVENT_NAMES = ["call", "return", "line", "count", "tail call"];
const LETTERS: Record<string, number> = { c: HookMask.Call, r: HookMask.Ret, l: HookMask.Line };

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
  private readonly hurried = new Set<LuaState>();
  /** Threads (addresses) on which the script set a hook. */
  private readonly script = new Map<LuaState, Wanted>();
  /** Threads running a script hook now: their events go to the host only. */
  private readonly inHook = new Set<LuaState>();
  /** Whether the lua_State layout lets hooks be switched back on from inside a hook (see probe). */
  allowHook = false;
  private probed = false;

  constructor(
    private readonly stack: LuaStack,
  ) {}

  /** Check the lua_State layout once, on thread L outside any hook. */
  probe(L: LuaState): void {
    if (this.probed) return;
    this.probed = true;
    this.allowHook = this.stack.lua.allowHookKnown(L);
  }

  /** The prelude's dispatcher, kept in the registry. */
  setDispatcher(ref: number): void {
    this.dispatcherRef = ref;
  }

  /** The host's own needs, applied to thread L (and remembered for threads the script hooks later). */
  hostHook(L: LuaState, mask: number, count: number): void {
    this.host = { mask: count > 0 ? mask | HookMask.Count : mask, count };
    this.hurried.delete(L);
    this.apply(L);
  }

  /** Hook thread L on every instruction (a stop unwinding it). */
  hurry(L: LuaState): void {
    if (this.hurried.has(L)) return;
    this.hurried.add(L);
    this.apply(L);
  }

  /** Thread L back to the host's usual count, if a stop had hurried it. */
  unhurry(L: LuaState): void {
    if (this.hurried.size && this.hurried.delete(L)) this.apply(L);
  }

  /** debug.sethook for thread L: mask letters "crl" and a count (0: none). */
  scriptHook(L: LuaState, letters: string, count: number): void {
    let mask = 0;
    for (const ch of letters) mask |= LETTERS[ch] ?? 0;
    if (count > 0) mask |= HookMask.Count;
    if (mask === 0) this.script.delete(L);
    else {
      this.script.set(L, { mask, count });
      this.used = true;
    }
    this.apply(L);
  }

  private apply(L: LuaState): void {
    const s = this.script.get(L);
    const host = this.hurried.has(L) ? { mask: HookMask.Count, count: 1 } : this.host;
    const mask = host.mask | (s?.mask ?? 0);
    let count = host.count;
    if (s && s.count > 0) count = count > 0 ? Math.min(count, s.count) : s.count;
    this.stack.lua.sethook(L, mask, count);
  }

  /**
   * The first thing the C hook does: show the event to the script's hook (the Lua dispatcher
   * decides whether this thread's hook wants it). Returns true when the event is not a count
   * event, which the host has nothing to do with.
   */
  dispatch(L: LuaState, ar: unknown): boolean {
    const lua = this.stack.lua;
    const event = lua.hookEvent(ar);
    // A line or call event right after a time-slice pause is not shown on fengari (docs/engines.md).
    if (this.used && this.dispatcherRef && !this.inHook.has(L) && !lua.yieldingInHook(L)) {
      lua.pushref(L, this.dispatcherRef);
      this.pushName(L, event);
      if (event === HookEvent.Line) lua.pushinteger(L, lua.hookLine(ar));
      else lua.pushnil(L);
      lua.pushinteger(L, event === HookEvent.Count ? lua.gethookcount(L) : 0);
      // Lua runs a hook with hooks off; the script's hook must stay under the host's count
      // hook (an endless hook function would escape the limits), so they go back on for it.
      const reopen = this.allowHook && !lua.getAllowHook(L);
      this.inHook.add(L);
      if (reopen) lua.setAllowHook(L, true);
      try {
        lua.call(L, 3, 0); // errors from the script's hook propagate, as in Lua
      } finally {
        this.inHook.delete(L);
        if (reopen) lua.setAllowHook(L, false);
      }
    }
    return event !== HookEvent.Count;
  }

  private pushName(L: LuaState, event: number): void {
    const name = EVENT_NAMES[event] ?? "count";
    this.stack.pushBytes(L, Buffer.from(name));
  }
}

/** The native behind the prelude's debug.sethook: (thread, mask letters, count). */
export function scriptHookNatives(stack: LuaStack, hooks: () => ScriptHooks): Record<string, HostFn> {
  return {
    set_script_hook: (a) => {
      const L = stack.lua.tothread(a.L, 1);
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

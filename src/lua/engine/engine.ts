/**
 * The seam between moonexec and a Lua implementation. Everything above it (driver, values,
 * host functions, script hooks, the Lua-visible types) talks to an Engine only; what an
 * implementation keeps inside (wasm heaps, emscripten tables, JS objects) stays in its file
 * under src/lua/engine/. The calls keep the C API's shape (a thread and stack indexes),
 * which both engines have; differences between engines: docs/engines.md.
 */

/** A Lua thread, opaque above the engine (a wasm address on wasmoon, an object on fengari). */
export interface LuaState {
  readonly __luaState: unique symbol;
}

export const ENGINE_NAMES = ["wasmoon", "fengari"] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** lua_type results (the same in Lua 5.3 and 5.4). */
export const LuaType = {
  None: -1,
  Nil: 0,
  Boolean: 1,
  LightUserdata: 2,
  Number: 3,
  String: 4,
  Table: 5,
  Function: 6,
  Userdata: 7,
  Thread: 8,
} as const;

/** Hook masks (LUA_MASK*) and events (LUA_HOOK*), the same in Lua 5.3 and 5.4. */
export const HookMask = { Call: 1, Ret: 2, Line: 4, Count: 8 } as const;
export const HookEvent = { Call: 0, Ret: 1, Line: 2, Count: 3, TailCall: 4 } as const;

/** What a resume ended with, the same on every engine. */
export type Status = "ok" | "yield" | "error" | "memory";

/** Called for a host function: `index` is the one given to pushHostFunction; returns the count of results pushed. */
export type HostDispatcher = (L: LuaState, index: number) => number;
/** Called for every hook event on a hooked thread; `ar` is read with hookEvent/hookLine. */
export type HookHandler = (L: LuaState, ar: unknown) => void;

export interface EngineOptions {
  /** Lua heap limit in bytes; undefined: none. Engines that cannot count memory refuse one. */
  memoryLimit?: number;
}

export interface Engine {
  readonly name: EngineName;
  /** For --version: "wasmoon 1.16.0 (Lua 5.4)". */
  readonly description: string;
  /** The state's main thread. */
  readonly main: LuaState;
  /** Largest integer a Lua integer holds: larger whole numbers cross as floats (docs/engines.md). */
  readonly maxInteger: number;

  type(L: LuaState, idx: number): number;
  typename(L: LuaState, type: number): string;
  toboolean(L: LuaState, idx: number): boolean;
  isinteger(L: LuaState, idx: number): boolean;
  tointeger(L: LuaState, idx: number): number;
  tonumber(L: LuaState, idx: number): number;
  rawlen(L: LuaState, idx: number): number;
  /** lua_next: pops a key, pushes the next key and value; false at the end. */
  next(L: LuaState, idx: number): boolean;
  gettop(L: LuaState): number;
  settop(L: LuaState, idx: number): void;
  checkstack(L: LuaState, n: number): boolean;
  pushnil(L: LuaState): void;
  pushboolean(L: LuaState, b: boolean): void;
  /** An integer within ±maxInteger. */
  pushinteger(L: LuaState, n: number): void;
  pushnumber(L: LuaState, n: number): void;
  pushvalue(L: LuaState, idx: number): void;
  createtable(L: LuaState, narr: number, nrec: number): void;
  rawset(L: LuaState, idx: number): void;
  rawseti(L: LuaState, idx: number, n: number): void;
  getfield(L: LuaState, idx: number, key: string): void;
  setglobal(L: LuaState, name: string): void;
  rotate(L: LuaState, idx: number, n: number): void;
  xmove(from: LuaState, to: LuaState, n: number): void;
  /** A new thread, pushed on L. */
  newthread(L: LuaState): LuaState;
  tothread(L: LuaState, idx: number): LuaState | undefined;
  /** Pop the top value into the registry: its reference. */
  ref(L: LuaState): number;
  unref(L: LuaState, ref: number): void;
  /** Push the value a reference holds. */
  pushref(L: LuaState, ref: number): void;
  isyieldable(L: LuaState): boolean;

  /** Raw bytes of the string (or number, converted in place) at idx; undefined for other types. */
  toBytes(L: LuaState, idx: number): Buffer | undefined;
  /** Is the value at idx a string of exactly these bytes? (nothing copied) */
  isBytes(L: LuaState, idx: number, want: Uint8Array): boolean;
  /** Push the pieces as one Lua string. */
  pushParts(L: LuaState, parts: readonly Uint8Array[], length: number): void;

  /** Where host functions land (set once, before any is pushed). */
  setHostDispatcher(dispatch: HostDispatcher): void;
  /** Push a function that calls the dispatcher with `index`. */
  pushHostFunction(L: LuaState, index: number): void;
  /** Is this exception Lua unwinding through JS (an error raised in Lua), which JS must let pass? */
  isUnwind(e: unknown): boolean;

  /** Compile text source onto L's stack; the error message when it does not compile. */
  load(L: LuaState, source: Uint8Array, chunkName: string): { status: Status; message?: string };
  /** lua_resume with nargs on L's stack: the status and the count of values returned or yielded (on top). */
  resume(L: LuaState, nargs: number): [Status, number];
  /**
   * Has L just yielded from a hook, with later events of the same instruction still to come?
   * Those must not call into L (fengari refuses; C Lua does not check, so wasmoon says false).
   */
  yieldingInHook(L: LuaState): boolean;
  /** From a count hook: yield with no values (only where isyieldable). */
  yieldFromHook(L: LuaState): void;
  /** Raise the value at L's top as a Lua error: does not return. */
  error(L: LuaState): never;
  /** lua_call: errors propagate to the caller's Lua. */
  call(L: LuaState, nargs: number, nresults: number): void;
  /** L's traceback as text (luaL_traceback). */
  traceback(L: LuaState): string;

  /** The one hook handler (set once). */
  setHookHandler(handler: HookHandler): void;
  /** Hook thread L with mask and count (mask 0: none). */
  sethook(L: LuaState, mask: number, count: number): void;
  gethookcount(L: LuaState): number;
  hookEvent(ar: unknown): number;
  hookLine(ar: unknown): number;
  /**
   * Switching a thread's hooks back on inside a hook (Lua runs hooks with them off): false
   * when this engine's layout is unknown, and then set/getAllowHook must not be called.
   */
  allowHookKnown(L: LuaState): boolean;
  getAllowHook(L: LuaState): boolean;
  setAllowHook(L: LuaState, on: boolean): void;

  /** Does this engine run __gc finalizers (and so free host handles when Lua drops them)? */
  readonly finalizers: boolean;
  /** Can this engine count (and limit) the Lua heap? */
  readonly countsMemory: boolean;
  setMemoryLimit(bytes: number | undefined): void;
  /** Close the state; nothing may call into it afterwards. Frees what the engine registered. */
  close(): void;
  /** Free what the engine registered but leave the state alone (it was interrupted mid-instruction). */
  abandon(): void;
}

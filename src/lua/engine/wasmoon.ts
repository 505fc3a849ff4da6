/**
 * The wasmoon engine (Lua 5.4 in WebAssembly): the one home of what moonexec reads inside
 * wasmoon's emscripten module (the heap, malloc, the function table, the raw exports) and of
 * the lua_State layout it relies on.
 *
 * wasmoon is loaded with require(): importing this large CommonJS bundle through ESM makes
 * Node scan it for named exports first, on every start-up.
 *
 * Hot calls go to the module's exports directly (wasmoon-api.ts): wasmoon's own methods go
 * through Emscripten's ccall, which allocates on every call. Functions that take C strings
 * stay with wasmoon's methods (they convert the string).
 */
import { createRequire } from "node:module";
import type { LuaEngine as WasmoonState, LuaWasm } from "wasmoon";
import { useWasmAllocator } from "./wasm-allocator.js";
import { luaApi, type LuaApi } from "./wasmoon-api.js";
import { STAGING_KEEP } from "../../constants.js";
import type { Engine, HookHandler, HostDispatcher, LuaState, Status } from "./engine.js";

const wasmoon = createRequire(import.meta.url)("wasmoon") as typeof import("wasmoon");
const { LUA_REGISTRYINDEX } = wasmoon;
const WASMOON_VERSION: string = (createRequire(import.meta.url)("wasmoon/package.json") as { version: string }).version;

/** The parts of the emscripten module moonexec uses. */
interface Emscripten {
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
  HEAP32: Int32Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _realloc(ptr: number, size: number): number;
  _lua_callk(L: number, n: number, r: number, ctx: number, k: number): void;
  addFunction(fn: (...args: number[]) => number | void, signature: string): number;
  removeFunction(pointer: number): void;
  [name: string]: unknown;
}

function emscripten(lua: LuaWasm): Emscripten {
  return (lua as unknown as { module: Emscripten }).module;
}

let shared: import("wasmoon").LuaFactory | undefined;

/**
 * Start reading and compiling the Lua wasm now (once per process): V8 compiles it on
 * background threads, so the CLI calls this before it loads the rest of its code.
 */
export function warmLua(): void {
  shared ??= new wasmoon.LuaFactory();
}

/**
 * A wasmoon state on the process's one wasm module (warmLua). Its heap is counted in wasm
 * instead of wasmoon's JavaScript allocator (wasm-allocator.ts), when the glue's raw
 * functions can be reached.
 */
export async function createWasmoonEngine(): Promise<Engine> {
  warmLua();
  const state = await shared!.createEngine({ traceAllocations: true, enableProxy: false, injectObjects: false });
  useWasmAllocator(state.global, rawExports(emscripten(state.global.lua)));
  return new WasmoonEngine(state);
}

/**
 * Where `allowhook` lies in a lua_State (Lua 5.4, wasm32: after the GC header's next
 * pointer, tt and marked, and status). When 0, Lua runs no hooks on that thread.
 */
const ALLOWHOOK_OFFSET = 7;
const STATUS_OFFSET = 6;
const CURRENTLINE_OFFSET = 24; // lua_Debug.currentline on wasm32

const STATUS: Record<number, Status> = { 0: "ok", 1: "yield", 4: "memory" };

/** Thread addresses cross the seam as LuaState. */
const T = (L: LuaState): number => L as unknown as number;
const S = (L: number): LuaState => L as unknown as LuaState;

class WasmoonEngine implements Engine {
  readonly name = "wasmoon" as const;
  readonly description = `wasmoon ${WASMOON_VERSION} (Lua 5.4)`;
  readonly main: LuaState;
  readonly maxInteger = Number.MAX_SAFE_INTEGER;
  readonly finalizers = true;
  readonly countsMemory = true;
  private readonly lua: LuaWasm;
  private readonly m: Emscripten;
  private readonly api: LuaApi;
  private readonly lenPtr: number;
  private readonly resumeOut: number;
  private staging = { ptr: 0, size: 0 };
  private hostPtr = 0;
  private hookPtr = 0;
  private dispatch: HostDispatcher | undefined;
  private hook: HookHandler | undefined;

  // The C API with the same shape on both sides: the module's exports, unwrapped.
  readonly type: Engine["type"];
  readonly gettop: Engine["gettop"];
  readonly settop: Engine["settop"];
  readonly pushnil: Engine["pushnil"];
  readonly pushnumber: Engine["pushnumber"];
  readonly createtable: Engine["createtable"];
  readonly rawset: Engine["rawset"];
  readonly tonumber: Engine["tonumber"];

  constructor(private readonly state: WasmoonState) {
    this.lua = state.global.lua;
    this.m = emscripten(this.lua);
    const m = this.m;
    this.api = luaApi((name) => {
      const f = m[`_${name}`];
      return typeof f === "function" ? (f as (...args: any[]) => any) : undefined;
    });
    this.main = S(state.global.address);
    this.lenPtr = m._malloc(8);
    this.resumeOut = m._malloc(4);
    const api = this.api as unknown as Record<string, unknown>;
    this.type = api.lua_type as Engine["type"];
    this.gettop = api.lua_gettop as Engine["gettop"];
    this.settop = api.lua_settop as Engine["settop"];
    this.pushnil = api.lua_pushnil as Engine["pushnil"];
    this.pushnumber = api.lua_pushnumber as Engine["pushnumber"];
    this.createtable = api.lua_createtable as Engine["createtable"];
    this.rawset = api.lua_rawset as Engine["rawset"];
    this.tonumber = (L, idx) => this.api.lua_tonumberx(T(L), idx, 0);
  }

  typename(L: LuaState, type: number): string {
    return this.lua.lua_typename(T(L), type);
  }
  toboolean(L: LuaState, idx: number): boolean {
    return this.api.lua_toboolean(T(L), idx) !== 0;
  }
  isinteger(L: LuaState, idx: number): boolean {
    return this.api.lua_isinteger(T(L), idx) !== 0;
  }
  tointeger(L: LuaState, idx: number): number {
    return Number(this.api.lua_tointegerx(T(L), idx, 0));
  }
  rawlen(L: LuaState, idx: number): number {
    return Number(this.api.lua_rawlen(T(L), idx)); // a lua_Unsigned: BigInt
  }
  next(L: LuaState, idx: number): boolean {
    return this.api.lua_next(T(L), idx) !== 0;
  }
  checkstack(L: LuaState, n: number): boolean {
    return this.api.lua_checkstack(T(L), n) !== 0;
  }
  pushboolean(L: LuaState, b: boolean): void {
    this.api.lua_pushboolean(T(L), b ? 1 : 0);
  }
  pushinteger(L: LuaState, n: number): void {
    this.api.lua_pushinteger(T(L), BigInt(n));
  }
  pushvalue(L: LuaState, idx: number): void {
    this.lua.lua_pushvalue(T(L), idx);
  }
  rawseti(L: LuaState, idx: number, n: number): void {
    this.api.lua_rawseti(T(L), idx, BigInt(n));
  }
  getfield(L: LuaState, idx: number, key: string): void {
    this.lua.lua_getfield(T(L), idx, key);
  }
  setglobal(L: LuaState, name: string): void {
    this.lua.lua_setglobal(T(L), name);
  }
  rotate(L: LuaState, idx: number, n: number): void {
    this.lua.lua_rotate(T(L), idx, n);
  }
  xmove(from: LuaState, to: LuaState, n: number): void {
    this.lua.lua_xmove(T(from), T(to), n);
  }
  newthread(L: LuaState): LuaState {
    return S(this.lua.lua_newthread(T(L)));
  }
  tothread(L: LuaState, idx: number): LuaState | undefined {
    const t = this.lua.lua_tothread(T(L), idx);
    return t ? S(t) : undefined;
  }
  ref(L: LuaState): number {
    return this.lua.luaL_ref(T(L), LUA_REGISTRYINDEX);
  }
  unref(L: LuaState, ref: number): void {
    this.lua.luaL_unref(T(L), LUA_REGISTRYINDEX, ref);
  }
  pushref(L: LuaState, ref: number): void {
    this.lua.lua_rawgeti(T(L), LUA_REGISTRYINDEX, BigInt(ref));
  }
  isyieldable(L: LuaState): boolean {
    return this.api.lua_isyieldable(T(L)) !== 0;
  }

  toBytes(L: LuaState, idx: number): Buffer | undefined {
    const t = this.api.lua_type(T(L), idx);
    if (t !== 4 && t !== 3) return undefined; // string, number
    const ptr = this.api.lua_tolstring(T(L), idx, this.lenPtr);
    const len = this.m.HEAPU32[this.lenPtr >> 2]!;
    // Copy out: the wasm heap may grow (and detach views) on the next allocation.
    return Buffer.from(this.m.HEAPU8.subarray(ptr, ptr + len));
  }

  isBytes(L: LuaState, idx: number, want: Uint8Array): boolean {
    if (this.api.lua_type(T(L), idx) !== 4) return false;
    const ptr = this.api.lua_tolstring(T(L), idx, this.lenPtr);
    if (this.m.HEAPU32[this.lenPtr >> 2] !== want.length) return false;
    const heap = this.m.HEAPU8;
    for (let i = 0; i < want.length; i++) if (heap[ptr + i] !== want[i]) return false;
    return true;
  }

  /**
   * Each piece is copied into a staging area on the wasm heap, then lua_pushlstring makes the
   * string. The area is kept between calls (reads are usually the same size), except past
   * STAGING_KEEP, so a one-off large push does not hold its memory.
   */
  pushParts(L: LuaState, parts: readonly Uint8Array[], length: number): void {
    if (length === 0) {
      this.api.lua_pushlstring(T(L), 0, 0);
      return;
    }
    const keep = length <= STAGING_KEEP;
    let ptr: number;
    if (!keep) ptr = this.m._malloc(length);
    else {
      if (this.staging.size < length) {
        if (this.staging.ptr) this.m._free(this.staging.ptr);
        this.staging = { ptr: this.m._malloc(length), size: length };
      }
      ptr = this.staging.ptr;
    }
    if (!ptr) throw new Error("out of wasm memory");
    try {
      const heap = this.m.HEAPU8; // after malloc: growing memory replaces the view
      let at = ptr;
      for (const p of parts) {
        heap.set(p, at);
        at += p.length;
      }
      this.api.lua_pushlstring(T(L), ptr, length);
    } finally {
      if (!keep) this.m._free(ptr);
    }
  }

  setHostDispatcher(dispatch: HostDispatcher): void {
    this.dispatch = dispatch;
  }

  /**
   * All host functions share one C function (a wasm table slot): each is a closure whose
   * upvalue is its index, and calls come straight to the dispatcher with none of wasmoon's
   * per-call wrapping. The table is shared by every VM in the process: close() frees the slot.
   */
  pushHostFunction(L: LuaState, index: number): void {
    if (!this.hostPtr) {
      const upvalue = LUA_REGISTRYINDEX - 1; // lua_upvalueindex(1)
      this.hostPtr = this.m.addFunction((cL) => this.dispatch!(S(cL), Number(this.api.lua_tointegerx(cL, upvalue, 0))), "ii");
    }
    this.api.lua_pushinteger(T(L), BigInt(index));
    this.api.lua_pushcclosure(T(L), this.hostPtr, 1);
  }

  /** A Lua error unwinding through JS is emscripten's longjmp: a number. */
  isUnwind(e: unknown): boolean {
    return typeof e === "number";
  }

  load(L: LuaState, source: Uint8Array, chunkName: string): { status: Status; message?: string } {
    const ptr = this.m._malloc(source.length || 1);
    let status: number;
    try {
      this.m.HEAPU8.set(source, ptr);
      status = this.lua.luaL_loadbufferx(T(L), ptr, source.length, chunkName, "t");
    } finally {
      this.m._free(ptr);
    }
    if (status === 0) return { status: "ok" };
    return { status: STATUS[status] ?? "error", message: this.lua.lua_tolstring(T(L), -1, null) };
  }

  resume(L: LuaState, nargs: number): [Status, number] {
    this.m.HEAP32[this.resumeOut >> 2] = 0;
    const status = this.api.lua_resume(T(L), 0, nargs, this.resumeOut);
    return [STATUS[status] ?? "error", this.m.HEAP32[this.resumeOut >> 2]!];
  }

  yieldingInHook(): boolean {
    return false;
  }

  yieldFromHook(L: LuaState): void {
    this.api.lua_yieldk(T(L), 0, 0, 0); // count hooks may yield with 0 values
  }

  error(L: LuaState): never {
    this.api.lua_error(T(L));
    throw new Error("lua_error returned");
  }

  /** lua_call on the module directly (wasmoon's wrapper adds per-call conversions). */
  call(L: LuaState, nargs: number, nresults: number): void {
    this.m._lua_callk(T(L), nargs, nresults, 0, 0);
  }

  traceback(L: LuaState): string {
    this.lua.luaL_traceback(T(L), T(L), null, 0);
    const s = this.lua.lua_tolstring(T(L), -1, null);
    this.api.lua_settop(T(L), -2);
    return s;
  }

  setHookHandler(handler: HookHandler): void {
    this.hook = handler;
  }

  sethook(L: LuaState, mask: number, count: number): void {
    if (mask === 0) return void this.lua.lua_sethook(T(L), 0 as never, 0, 0);
    if (!this.hookPtr) this.hookPtr = this.m.addFunction((hL, ar) => this.hook!(S(hL), ar), "vii");
    this.lua.lua_sethook(T(L), this.hookPtr as never, mask, count);
  }

  gethookcount(L: LuaState): number {
    return this.lua.lua_gethookcount(T(L));
  }

  hookEvent(ar: unknown): number {
    return this.m.HEAP32[(ar as number) >> 2]!;
  }

  hookLine(ar: unknown): number {
    return this.m.HEAP32[((ar as number) + CURRENTLINE_OFFSET) >> 2]!;
  }

  /** Checked on a thread outside any hook, where allowhook must read 1 and status 0. */
  allowHookKnown(L: LuaState): boolean {
    const heap = this.m.HEAPU8;
    return heap[T(L) + STATUS_OFFSET] === 0 && heap[T(L) + ALLOWHOOK_OFFSET] === 1;
  }

  getAllowHook(L: LuaState): boolean {
    return this.m.HEAPU8[T(L) + ALLOWHOOK_OFFSET] !== 0;
  }

  setAllowHook(L: LuaState, on: boolean): void {
    this.m.HEAPU8[T(L) + ALLOWHOOK_OFFSET] = on ? 1 : 0;
  }

  setMemoryLimit(bytes: number | undefined): void {
    this.state.global.setMemoryMax(bytes);
  }

  close(): void {
    this.state.global.close();
    this.abandon();
  }

  /**
   * Free the function-table slots only (the state was interrupted mid-instruction: closing it
   * would run its finalizers on a broken state; its memory goes with the process).
   */
  abandon(): void {
    if (this.hostPtr) this.m.removeFunction(this.hostPtr);
    if (this.hookPtr) this.m.removeFunction(this.hookPtr);
    this.hostPtr = this.hookPtr = 0;
  }
}

/**
 * The glue's realloc and free as raw wasm functions, which another wasm module can import
 * and call without leaving wasm. The glue exports them only behind JavaScript wrappers that
 * pass their arguments on with `Function.prototype.apply`: that call is watched once, here,
 * to learn the function it is applied to. undefined when that does not give wasm functions.
 */
function rawExports(m: Emscripten): { realloc: Function; free: Function } | undefined {
  const free = appliedWasmFunction(() => m._free(0)) ?? (isWasmFunction(m._free) ? m._free : undefined); // free(NULL): nothing
  let block = 0;
  const realloc = appliedWasmFunction(() => (block = m._realloc(0, 8))) ?? (isWasmFunction(m._realloc) ? m._realloc : undefined);
  m._free(block);
  return free && realloc ? { realloc, free } : undefined;
}

/** The wasm function that `call` passes its arguments to through Function.prototype.apply. */
function appliedWasmFunction(call: () => void): Function | undefined {
  const applied: Function[] = [];
  const apply = Function.prototype.apply;
  Function.prototype.apply = function (this: Function, that: unknown, args?: unknown) {
    applied.push(this);
    return Reflect.apply(this, that, (args ?? []) as unknown[]);
  };
  try {
    call();
  } finally {
    Function.prototype.apply = apply;
  }
  return applied.find(isWasmFunction);
}

/** An exported wasm function (its source is native code, and its name is its index). */
function isWasmFunction(f: unknown): f is Function {
  return typeof f === "function" && /^\d+$/.test(f.name) && /\[native code\]/.test(Function.prototype.toString.call(f));
}

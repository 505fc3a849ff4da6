/**
 * wasmoon, loaded with require(): importing this large CommonJS bundle through ESM makes
 * Node scan it for named exports first, on every start-up.
 *
 * Also the one home of what moonexec reads inside wasmoon's emscripten module (the heap,
 * malloc, the raw exports) and of the lua_State layout it relies on.
 */
import { createRequire } from "node:module";
import type { LuaWasm } from "wasmoon";
import { useWasmAllocator } from "./wasm-allocator.js";

const wasmoon = createRequire(import.meta.url)("wasmoon") as typeof import("wasmoon");

export const { LuaReturn, LuaType, LuaEventMasks, LUA_REGISTRYINDEX } = wasmoon;
export type { LuaEngine, LuaThread, LuaWasm } from "wasmoon";
export type LuaReturn = import("wasmoon").LuaReturn;

/** The Emscripten module under a wasmoon state, as raw as wasmoon leaves it. */
interface EmscriptenModule {
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  addFunction(fn: (...args: number[]) => number | void, signature: string): number;
  removeFunction(pointer: number): void;
  [name: string]: unknown;
}

/**
 * The wasm memory and tables behind a wasmoon state: the one place outside wasmoon that knows
 * Emscripten's names (HEAPU8, _malloc, ...). All states of a process share one module.
 */
export interface WasmMemory {
  /** The heap as bytes. Ask again after any allocation: growing memory replaces the view. */
  bytes(): Uint8Array;
  /** The heap as 32-bit words (same caveat). */
  words(): Uint32Array;
  malloc(size: number): number;
  free(ptr: number): void;
  /** Register a JS function in the module's function table (signature as Emscripten spells it, "ii"). */
  addFunction(fn: (...args: number[]) => number | void, signature: string): number;
  removeFunction(pointer: number): void;
  /** A C function the module exports, by its C name ("lua_type"); undefined when it has none. */
  cFunction(name: string): ((...args: any[]) => any) | undefined;
}

export function wasmMemory(lua: LuaWasm): WasmMemory {
  const m = (lua as unknown as { module: EmscriptenModule }).module;
  return {
    bytes: () => m.HEAPU8,
    words: () => m.HEAPU32,
    malloc: (size) => m._malloc(size),
    free: (ptr) => m._free(ptr),
    addFunction: (fn, signature) => m.addFunction(fn, signature),
    removeFunction: (pointer) => m.removeFunction(pointer),
    cFunction: (name) => {
      const f = m[`_${name}`];
      return typeof f === "function" ? (f as (...args: any[]) => any) : undefined;
    },
  };
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
 * Makes engines on the process's one wasm module (warmLua). An engine made with
 * `traceAllocations` counts its heap in wasm instead of a JavaScript allocator
 * (wasm-allocator.ts), when the glue's raw functions can be reached.
 */
export class LuaFactory {
  async createEngine(options: Parameters<import("wasmoon").LuaFactory["createEngine"]>[0] = {}): Promise<import("wasmoon").LuaEngine> {
    warmLua();
    const engine = await shared!.createEngine(options);
    if (options.traceAllocations) useWasmAllocator(engine.global, rawExports(emscripten(engine.global.lua)));
    return engine;
  }
}

/** The parts of the emscripten module moonexec uses. */
interface Emscripten {
  HEAPU8: Uint8Array;
  HEAP32: Int32Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _realloc(ptr: number, size: number): number;
}

function emscripten(lua: LuaWasm): Emscripten {
  return (lua as unknown as { module: Emscripten }).module;
}

/** The heap as bytes; a fresh view each time (the heap may grow and detach older views). */
export function heapU8(lua: LuaWasm): Uint8Array {
  return emscripten(lua).HEAPU8;
}

/** The heap as 32-bit words (index = address >> 2); fresh each time, as heapU8. */
export function heap32(lua: LuaWasm): Int32Array {
  return emscripten(lua).HEAP32;
}

/** malloc on the wasm heap (0 when out of memory). */
export function wasmMalloc(lua: LuaWasm, size: number): number {
  return emscripten(lua)._malloc(size);
}

/** free on the wasm heap. */
export function wasmFree(lua: LuaWasm, ptr: number): void {
  emscripten(lua)._free(ptr);
}

/** lua_call on the module directly (wasmoon's wrapper adds per-call conversions); Lua errors propagate. */
export function luaCall(lua: LuaWasm, L: number, nargs: number, nresults: number): void {
  (emscripten(lua) as unknown as { _lua_callk(L: number, n: number, r: number, ctx: number, k: number): void })._lua_callk(L, nargs, nresults, 0, 0);
}

/**
 * Where `allowhook` lies in a lua_State (Lua 5.4, wasm32: after the GC header's next
 * pointer, tt and marked, and status). When 0, Lua runs no hooks on that thread.
 */
const ALLOWHOOK_OFFSET = 7;
const STATUS_OFFSET = 6;

/**
 * Whether the lua_State layout is the expected one: checked on a thread outside any hook,
 * where allowhook must read 1 and status 0. Without it, allowhook is never touched.
 */
export function allowHookKnown(lua: LuaWasm, L: number): boolean {
  const heap = heapU8(lua);
  return heap[L + STATUS_OFFSET] === 0 && heap[L + ALLOWHOOK_OFFSET] === 1;
}

/** Thread L's allowhook byte (see allowHookKnown). */
export function getAllowHook(lua: LuaWasm, L: number): boolean {
  return heapU8(lua)[L + ALLOWHOOK_OFFSET] !== 0;
}

/** Switch thread L's hooks on or off from inside a hook (see allowHookKnown). */
export function setAllowHook(lua: LuaWasm, L: number, on: boolean): void {
  heapU8(lua)[L + ALLOWHOOK_OFFSET] = on ? 1 : 0;
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

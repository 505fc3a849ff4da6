/**
 * wasmoon, loaded with require(): importing this large CommonJS bundle through ESM makes
 * Node scan it for named exports first, on every start-up.
 */
import { createRequire } from "node:module";
import type { LuaWasm } from "wasmoon";

const wasmoon = createRequire(import.meta.url)("wasmoon") as typeof import("wasmoon");

export const { LuaFactory, LuaReturn, LuaType, LuaEventMasks, LUA_REGISTRYINDEX } = wasmoon;
export type { LuaEngine, LuaThread, LuaWasm } from "wasmoon";
export type LuaReturn = import("wasmoon").LuaReturn;
export type LuaFactory = import("wasmoon").LuaFactory;

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

/**
 * The Lua allocator with the memory limit, in wasm.
 *
 * wasmoon's `traceAllocations` counts the heap in a JavaScript allocator, so every malloc,
 * realloc and free of Lua crosses from wasm to JavaScript and back: allocation-heavy scripts
 * (string building) ran at about half the speed of plain wasmoon. This module does the same
 * accounting in a few wasm instructions and calls the glue's own realloc/free directly
 * (wasm to wasm). The counters are wasm globals that wasmoon's memoryStats object reads and
 * writes, so getMemoryUsed/setMemoryMax keep working.
 *
 * The function, as text:
 *   (func $alloc (param $ud i32) (param $ptr i32) (param $osize i32) (param $nsize i32) (result i32)
 *     (local $end f64) (local $r i32)
 *     (if (i32.eqz nsize) (then
 *       (if ptr (then (global.set $used (f64.sub used (f64.convert_i32_u osize))) (call $free ptr)))
 *       (return (i32.const 0))))
 *     ;; osize is the object's type, not a size, when ptr is NULL
 *     (local.set $end (f64.sub (f64.add used (f64.convert_i32_u nsize)) (if ptr osize 0)))
 *     (if (i32.and (i32.and (f64.gt end used) (f64.gt max 0)) (f64.gt end max)) (then (return (i32.const 0))))
 *     (local.set $r (call $realloc ptr nsize))
 *     (if r (then (global.set $used end)))
 *     r)
 */
import type { LuaWasm } from "wasmoon";

const I32 = 0x7f;
const F64 = 0x7c;

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

function name(s: string): number[] {
  return [s.length, ...Buffer.from(s)];
}

const f64zero = [0x44, 0, 0, 0, 0, 0, 0, 0, 0];

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const types = section(1, [3, 0x60, 4, I32, I32, I32, I32, 1, I32, 0x60, 2, I32, I32, 1, I32, 0x60, 1, I32, 0]);
  const imports = section(2, [2, ...name("m"), ...name("realloc"), 0, 1, ...name("m"), ...name("free"), 0, 2]);
  const functions = section(3, [1, 0]);
  const globals = section(6, [2, F64, 1, ...f64zero, 0x0b, F64, 1, ...f64zero, 0x0b]);
  const exports = section(7, [3, ...name("alloc"), 0, 2, ...name("used"), 3, 0, ...name("max"), 3, 1]);
  const [ptr, osize, nsize, end, r] = [1, 2, 3, 4, 5];
  const get = (i: number) => [0x20, i];
  const used = [0x23, 0];
  const max = [0x23, 1];
  const code = [
    2, 1, F64, 1, I32, // locals: end f64, r i32
    ...get(nsize), 0x45, 0x04, 0x40,
    ...get(ptr), 0x04, 0x40, ...used, ...get(osize), 0xb8, 0xa1, 0x24, 0, ...get(ptr), 0x10, 1, 0x0b,
    0x41, 0, 0x0f, 0x0b,
    ...used, ...get(nsize), 0xb8, 0xa0, ...get(ptr), 0x04, F64, ...get(osize), 0xb8, 0x05, ...f64zero, 0x0b, 0xa1, 0x21, end,
    ...get(end), ...used, 0x64, ...max, ...f64zero, 0x64, 0x71, ...get(end), ...max, 0x64, 0x71, 0x04, 0x40, 0x41, 0, 0x0f, 0x0b,
    ...get(ptr), ...get(nsize), 0x10, 0, 0x22, r, 0x04, 0x40, ...get(end), 0x24, 0, 0x0b,
    ...get(r), 0x0b,
  ];
  const codeSection = section(10, [1, ...uleb(code.length), ...code]);
  return new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...types, ...imports, ...functions, ...globals, ...exports, ...codeSection]);
}

/** The counters wasmoon's Global keeps for traceAllocations. */
interface MemoryStats {
  memoryUsed: number;
  memoryMax?: number;
}

/** What of wasmoon's Global this needs (its traceAllocations counters are not in its types). */
interface TracedGlobal {
  lua: LuaWasm;
  address: number;
  close(): void;
}

/**
 * Replace the traced state's JavaScript allocator by the wasm one; false (nothing changed)
 * when the state is not traced or the glue's raw realloc/free cannot be reached.
 */
export function useWasmAllocator(global: TracedGlobal, raw: { realloc: Function; free: Function } | undefined): boolean {
  const stats = (global as unknown as { memoryStats?: MemoryStats }).memoryStats;
  if (!raw || !stats) return false;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes()), { m: raw as unknown as WebAssembly.ModuleImports });
  const { alloc, used, max } = instance.exports as { alloc: Function; used: WebAssembly.Global; max: WebAssembly.Global };
  used.value = stats.memoryUsed;
  max.value = stats.memoryMax ?? 0;
  const m = (global.lua as unknown as { module: EmscriptenTable & { _lua_setallocf(L: number, f: number, ud: number): void } }).module;
  const slot = m.addFunction(alloc, "iiiii");
  m._lua_setallocf(global.address, slot, 0);
  Object.defineProperties(stats, {
    memoryUsed: { get: () => used.value, set: (v: number) => void (used.value = v), configurable: true },
    memoryMax: { get: () => max.value || undefined, set: (v: number | undefined) => void (max.value = v ?? 0), configurable: true },
  });
  // The function table is shared by every VM in the process: free the slot with the state.
  const close = global.close.bind(global);
  let freed = false;
  global.close = () => {
    close();
    if (!freed) m.removeFunction(slot);
    freed = true;
  };
  return true;
}

interface EmscriptenTable {
  addFunction(f: Function, signature: string): number;
  removeFunction(slot: number): void;
}

/**
 * Binary-safe value transfer between JS and the Lua stack.
 *
 * wasmoon converts Lua strings through UTF-8 (C strings), which corrupts bytes that are
 * not valid UTF-8 and cuts at NUL. Commands produce arbitrary bytes, so strings cross
 * here with lua_pushlstring / lua_tolstring on the wasm heap directly.
 */
import { LuaType, wasmMemory, type LuaWasm, type WasmMemory } from "./wasmoon.js";
import { luaApi, type LuaApi } from "./lua-api.js";
import { ByteParts } from "../stream/byte-parts.js";
import { STAGING_KEEP } from "../constants.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A Lua string read from the stack; text when it is valid UTF-8, else the raw bytes. */
export type LuaValue = undefined | boolean | number | string | Uint8Array | LuaValue[] | { [k: string]: LuaValue } | LuaOpaque;

/** A Lua value JS does not look into (function, userdata, thread); kept only to report its type. */
export class LuaOpaque {
  constructor(readonly type: string) {}
}

/** A C function (a wasm table index) pushed as a closure with one integer upvalue. */
export class LuaCFunction {
  constructor(
    readonly pointer: number,
    readonly upvalue: number,
  ) {}
}

export class LuaStack {
  private readonly m: WasmMemory;
  /** The C API without wasmoon's per-call conversions (see lua-api.ts). */
  readonly api: LuaApi;
  private lenPtr: number;
  private staging = { ptr: 0, size: 0 };

  constructor(readonly lua: LuaWasm) {
    this.m = wasmMemory(lua);
    this.api = luaApi(lua);
    this.lenPtr = this.m.malloc(8);
  }

  /** Raw bytes of the string (or number, coerced) at idx; undefined when not a string. */
  bytes(L: number, idx: number): Buffer | undefined {
    const t = this.api.lua_type(L, idx);
    if (t !== LuaType.String && t !== LuaType.Number) return undefined;
    const ptr = this.api.lua_tolstring(L, idx, this.lenPtr);
    const len = this.m.words()[this.lenPtr >> 2]!;
    // Copy out: the wasm heap may grow (and detach views) on the next allocation.
    return Buffer.from(this.m.bytes().subarray(ptr, ptr + len));
  }

  /**
   * Register a JS function as a C function in the module's table (signature as Emscripten
   * spells it, e.g. "ii"). The table is shared by every VM in the process: whoever adds
   * one removes it once its VM is closed, or the function and all it holds stay.
   */
  addFunction(fn: (...args: number[]) => number | void, signature: string): number {
    return this.m.addFunction(fn, signature);
  }

  removeFunction(pointer: number): void {
    this.m.removeFunction(pointer);
  }

  /** True when the value at idx is a string of exactly these bytes (nothing is copied). */
  isBytes(L: number, idx: number, want: Uint8Array): boolean {
    if (this.api.lua_type(L, idx) !== LuaType.String) return false;
    const ptr = this.api.lua_tolstring(L, idx, this.lenPtr);
    if (this.m.words()[this.lenPtr >> 2] !== want.length) return false;
    const heap = this.m.bytes();
    for (let i = 0; i < want.length; i++) if (heap[ptr + i] !== want[i]) return false;
    return true;
  }

  pushBytes(L: number, data: Uint8Array): void {
    this.pushParts(L, [data], data.length);
  }

  /**
   * Push pieces as one Lua string: each is copied into a staging area on the wasm heap,
   * then lua_pushlstring makes the string. The area is kept between calls (reads are
   * usually the same size), except past STAGING_KEEP, so a one-off large push does not
   * hold its memory.
   */
  pushParts(L: number, parts: readonly Uint8Array[], length: number): void {
    if (length === 0) {
      this.api.lua_pushlstring(L, 0, 0);
      return;
    }
    const keep = length <= STAGING_KEEP;
    let ptr: number;
    if (!keep) ptr = this.m.malloc(length);
    else {
      if (this.staging.size < length) {
        if (this.staging.ptr) this.m.free(this.staging.ptr);
        this.staging = { ptr: this.m.malloc(length), size: length };
      }
      ptr = this.staging.ptr;
    }
    if (!ptr) throw new Error("out of wasm memory");
    try {
      const heap = this.m.bytes(); // after malloc: growing memory replaces the view
      let at = ptr;
      for (const p of parts) {
        heap.set(p, at);
        at += p.length;
      }
      this.api.lua_pushlstring(L, ptr, length);
    } finally {
      if (!keep) this.m.free(ptr);
    }
  }

  read(L: number, idx: number, depth = 0): LuaValue {
    const lua = this.api;
    switch (lua.lua_type(L, idx)) {
      case LuaType.None:
      case LuaType.Nil:
        return undefined;
      case LuaType.Boolean:
        return lua.lua_toboolean(L, idx) !== 0;
      case LuaType.Number:
        return lua.lua_isinteger(L, idx) ? Number(lua.lua_tointegerx(L, idx, 0)) : lua.lua_tonumberx(L, idx, 0);
      case LuaType.String: {
        const b = this.bytes(L, idx)!;
        try {
          return utf8.decode(b);
        } catch {
          return b;
        }
      }
      case LuaType.Table:
        return depth > 32 ? new LuaOpaque("table") : this.readTable(L, idx, depth);
      case LuaType.Function:
        return new LuaOpaque("function");
      case LuaType.Thread:
        return new LuaOpaque("thread");
      default:
        return new LuaOpaque("userdata");
    }
  }

  private readTable(L: number, idx: number, depth: number): LuaValue {
    const lua = this.api;
    const abs = idx < 0 ? lua.lua_gettop(L) + idx + 1 : idx;
    const len = Number(lua.lua_rawlen(L, abs)); // a lua_Unsigned: BigInt
    const obj: Record<string, LuaValue> = {};
    let keys = 0;
    lua.lua_pushnil(L);
    while (lua.lua_next(L, abs) !== 0) {
      // key at -2, value at -1; never lua_tolstring a numeric key in place (it would change it)
      const keyType = lua.lua_type(L, -2);
      let key: string;
      if (keyType === LuaType.Number) key = String(this.read(L, -2));
      else if (keyType === LuaType.String) key = this.bytes(L, -2)!.toString("utf8");
      else {
        lua.lua_settop(L, -2);
        continue;
      }
      // A key "__proto__" is data like any other (an assignment would set the prototype).
      if (key === "__proto__") Object.defineProperty(obj, key, { value: this.read(L, -1, depth + 1), enumerable: true, writable: true, configurable: true });
      else obj[key] = this.read(L, -1, depth + 1);
      keys++;
      lua.lua_settop(L, -2);
    }
    if (len > 0 && keys === len) {
      const arr: LuaValue[] = [];
      for (let i = 1; i <= len; i++) arr.push(obj[String(i)]);
      return arr;
    }
    return obj;
  }

  push(L: number, v: unknown, depth = 0): void {
    const lua = this.api;
    if (v === undefined || v === null) lua.lua_pushnil(L);
    else if (typeof v === "boolean") lua.lua_pushboolean(L, v ? 1 : 0);
    else if (typeof v === "number") {
      if (Number.isSafeInteger(v)) lua.lua_pushinteger(L, BigInt(v));
      else lua.lua_pushnumber(L, v);
    } else if (typeof v === "string") this.pushBytes(L, Buffer.from(v, "utf8"));
    else if (v instanceof Uint8Array) this.pushBytes(L, v);
    else if (v instanceof ByteParts) this.pushParts(L, v.parts, v.length);
    else if (v instanceof LuaCFunction) {
      lua.lua_pushinteger(L, BigInt(v.upvalue));
      lua.lua_pushcclosure(L, v.pointer, 1);
    } else if (Array.isArray(v)) {
      lua.lua_checkstack(L, 3);
      lua.lua_createtable(L, v.length, 0);
      v.forEach((item, i) => {
        this.push(L, item, depth + 1);
        lua.lua_rawseti(L, -2, BigInt(i + 1));
      });
    } else if (typeof v === "object" && depth < 32) {
      const entries = Object.entries(v as object);
      lua.lua_checkstack(L, 3);
      lua.lua_createtable(L, 0, entries.length);
      for (const [k, item] of entries) {
        if (item === undefined) continue;
        this.pushBytes(L, Buffer.from(k, "utf8"));
        this.push(L, item, depth + 1);
        lua.lua_rawset(L, -3);
      }
    } else lua.lua_pushnil(L);
  }
}

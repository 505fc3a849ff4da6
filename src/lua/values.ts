/**
 * Value transfer between JS and the Lua stack, through the engine (binary-safe: strings
 * cross as bytes, never through a text conversion that would corrupt bytes that are not
 * valid UTF-8 or cut at NUL).
 */
import { LuaType, type Engine, type LuaState } from "./engine/engine.js";
import { ByteParts } from "../stream/byte-parts.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A Lua string read from the stack; text when it is valid UTF-8, else the raw bytes. */
export type LuaValue = undefined | boolean | number | string | Uint8Array | LuaValue[] | { [k: string]: LuaValue } | LuaOpaque;

/** A Lua value JS does not look into (function, userdata, thread); kept only to report its type. */
export class LuaOpaque {
  constructor(readonly type: string) {}
}

/** A host function (its index in the host's table), pushed as a function Lua can call. */
export class LuaCFunction {
  constructor(readonly index: number) {}
}

export class LuaStack {
  constructor(readonly lua: Engine) {}

  /** Raw bytes of the string (or number, coerced) at idx; undefined when not a string. */
  bytes(L: LuaState, idx: number): Buffer | undefined {
    return this.lua.toBytes(L, idx);
  }

  /** True when the value at idx is a string of exactly these bytes (nothing is copied). */
  isBytes(L: LuaState, idx: number, want: Uint8Array): boolean {
    return this.lua.isBytes(L, idx, want);
  }

  pushBytes(L: LuaState, data: Uint8Array): void {
    this.lua.pushParts(L, [data], data.length);
  }

  pushParts(L: LuaState, parts: readonly Uint8Array[], length: number): void {
    this.lua.pushParts(L, parts, length);
  }

  read(L: LuaState, idx: number, depth = 0): LuaValue {
    const lua = this.lua;
    switch (lua.type(L, idx)) {
      case LuaType.None:
      case LuaType.Nil:
        return undefined;
      case LuaType.Boolean:
        return lua.toboolean(L, idx);
      case LuaType.Number:
        return lua.isinteger(L, idx) ? lua.tointeger(L, idx) : lua.tonumber(L, idx);
      case LuaType.String: {
        const b = lua.toBytes(L, idx)!;
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

  private readTable(L: LuaState, idx: number, depth: number): LuaValue {
    const lua = this.lua;
    const abs = idx < 0 ? lua.gettop(L) + idx + 1 : idx;
    const len = lua.rawlen(L, abs);
    const obj: Record<string, LuaValue> = {};
    let keys = 0;
    lua.pushnil(L);
    while (lua.next(L, abs)) {
      // key at -2, value at -1; never convert a numeric key in place (it would change it)
      const keyType = lua.type(L, -2);
      let key: string;
      if (keyType === LuaType.Number) key = String(this.read(L, -2));
      else if (keyType === LuaType.String) key = lua.toBytes(L, -2)!.toString("utf8");
      else {
        lua.settop(L, -2);
        continue;
      }
      // A key "__proto__" is data like any other (an assignment would set the prototype).
      if (key === "__proto__") Object.defineProperty(obj, key, { value: this.read(L, -1, depth + 1), enumerable: true, writable: true, configurable: true });
      else obj[key] = this.read(L, -1, depth + 1);
      keys++;
      lua.settop(L, -2);
    }
    if (len > 0 && keys === len) {
      const arr: LuaValue[] = [];
      for (let i = 1; i <= len; i++) arr.push(obj[String(i)]);
      return arr;
    }
    return obj;
  }

  /**
   * Whole numbers beyond the engine's integers (fengari's are 32-bit) cross as floats, which
   * hold them exactly up to 2^53: never a wrapped integer.
   */
  push(L: LuaState, v: unknown, depth = 0): void {
    const lua = this.lua;
    if (v === undefined || v === null) lua.pushnil(L);
    else if (typeof v === "boolean") lua.pushboolean(L, v);
    else if (typeof v === "number") {
      if (Number.isInteger(v) && Math.abs(v) <= lua.maxInteger) lua.pushinteger(L, v);
      else lua.pushnumber(L, v);
    } else if (typeof v === "string") this.pushBytes(L, Buffer.from(v, "utf8"));
    else if (v instanceof Uint8Array) this.pushBytes(L, v);
    else if (v instanceof ByteParts) lua.pushParts(L, v.parts, v.length);
    else if (v instanceof LuaCFunction) lua.pushHostFunction(L, v.index);
    else if (Array.isArray(v)) {
      lua.checkstack(L, 3);
      lua.createtable(L, v.length, 0);
      v.forEach((item, i) => {
        this.push(L, item, depth + 1);
        lua.rawseti(L, -2, i + 1);
      });
    } else if (typeof v === "object" && depth < 32) {
      const entries = Object.entries(v as object);
      lua.checkstack(L, 3);
      lua.createtable(L, 0, entries.length);
      for (const [k, item] of entries) {
        if (item === undefined) continue;
        this.pushBytes(L, Buffer.from(k, "utf8"));
        this.push(L, item, depth + 1);
        lua.rawset(L, -3);
      }
    } else lua.pushnil(L);
  }
}

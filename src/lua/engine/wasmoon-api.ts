/**
 * The Lua C API functions the hot paths use, called as the wasm module exports them:
 * numbers in, numbers out (lua_Integer and lua_Unsigned as BigInt).
 *
 * wasmoon's own methods (`lua.lua_type(...)`) go through Emscripten's ccall, which builds
 * an object, closures and arrays on every call, and a busy stream makes thousands of calls a
 * second. These calls allocate nothing. Functions that
 * take C strings stay with wasmoon's methods (they convert the string).
 */

export interface LuaApi {
  lua_type(L: number, idx: number): number;
  lua_toboolean(L: number, idx: number): number;
  lua_isinteger(L: number, idx: number): number;
  lua_tointegerx(L: number, idx: number, isnum: number): bigint;
  lua_tonumberx(L: number, idx: number, isnum: number): number;
  lua_tolstring(L: number, idx: number, len: number): number;
  lua_rawlen(L: number, idx: number): bigint;
  lua_next(L: number, idx: number): number;
  lua_gettop(L: number): number;
  lua_settop(L: number, idx: number): void;
  lua_checkstack(L: number, n: number): number;
  lua_pushnil(L: number): void;
  lua_pushboolean(L: number, b: number): void;
  lua_pushinteger(L: number, n: bigint): void;
  lua_pushnumber(L: number, n: number): void;
  lua_pushlstring(L: number, ptr: number, len: number): number;
  lua_pushcclosure(L: number, fn: number, n: number): void;
  lua_createtable(L: number, narr: number, nrec: number): void;
  lua_rawset(L: number, idx: number): void;
  lua_rawseti(L: number, idx: number, n: bigint): void;
  lua_resume(L: number, from: number, nargs: number, nres: number): number;
  lua_isyieldable(L: number): number;
  lua_yieldk(L: number, nresults: number, ctx: number, k: number): number;
  lua_error(L: number): number;
}

const NAMES: Array<keyof LuaApi> = [
  "lua_type", "lua_toboolean", "lua_isinteger", "lua_tointegerx", "lua_tonumberx", "lua_tolstring",
  "lua_rawlen", "lua_next", "lua_gettop", "lua_settop", "lua_checkstack", "lua_pushnil",
  "lua_pushboolean", "lua_pushinteger", "lua_pushnumber", "lua_pushlstring", "lua_pushcclosure",
  "lua_createtable", "lua_rawset", "lua_rawseti", "lua_resume", "lua_isyieldable", "lua_yieldk", "lua_error",
];

/** The module's exports (`_lua_type`, ...) under their C names. */
export function luaApi(cFunction: (name: string) => ((...args: any[]) => any) | undefined): LuaApi {
  const api: Record<string, unknown> = {};
  for (const name of NAMES) {
    const f = cFunction(name);
    if (f === undefined) throw new Error(`wasmoon: the module does not export ${name}`);
    api[name] = f;
  }
  return api as unknown as LuaApi;
}

/** Library API: embed the moonexec Lua host in a TypeScript application. */
export { Host, type HostOptions, type Plugin, LuaScriptError, ScriptStop, DEFAULT_MEMORY_LIMIT } from "./lua/host.js";
export { multi, type UserModule, type UserFunction } from "./lua/user-modules.js";
export type { LuaValue } from "./lua/values.js";
export { ExecError, ConfigError, type ErrorKind } from "./errors.js";
export type { AuditEvent } from "./registry/executor.js";
export type { Config, Entry } from "./config/entry.js";
export { loadConfig, parseConfig } from "./config/load.js";
// Custom backends (HostOptions.kinds, docs/library.md): the contract a kind implements.
export type { BackendKind, ExecutorBackend, RunningCommand, CommandSpec, ExitInfo, ProbeResult, FieldType, PtySpec } from "./backend/contract.js";
export type { ByteSource } from "./stream/byte-source.js";
export { builtinKinds } from "./backend/kinds.js";

/** Library API: embed the moonexec Lua host in a TypeScript application. */
export { Host, type HostOptions, LuaScriptError, ScriptStop } from "./lua/host.js";
export { ExecError, ConfigError, type ErrorKind } from "./errors.js";
export type { Config, Entry } from "./config/entry.js";
export { loadConfig, parseConfig } from "./config/load.js";
export type { BackendKind, ExecutorBackend, RunningCommand, CommandSpec, ExitInfo } from "./backend/contract.js";

/** Read moonexec YAML config files into validated entries. */
import { readFileSync, existsSync } from "node:fs";
import { basename, extname, resolve } from "node:path";
import { createRequire } from "node:module";
import { ConfigError } from "../errors.js";
import type { BackendKind } from "../backend/contract.js";
import type { Config, Entry } from "./entry.js";
import { COMMON_FIELDS, checkEnvMap, checkField, describe } from "./fields.js";
import { checkFleetIds, expandFleet } from "./fleet.js";

export const DEFAULT_CONFIG_FILE = "moonexec.yaml";
const TOP_LEVEL = new Set(["version", "namespace", "entries"]);

/** The config used when no file exists: one native executor `local:shell`, inheriting PATH only. */
export function defaultConfig(): Config {
  const env: Record<string, string> = {};
  if (process.env.PATH !== undefined) env.PATH = process.env.PATH;
  const entry: Entry = {
    id: "local:shell",
    name: "shell",
    kind: "exec.native",
    default_env: env,
    default_work_dir: process.cwd(),
    where: "built-in default",
  };
  return { files: [], entries: new Map([[entry.id, entry]]) };
}

/**
 * Find and load the config: an explicit path (must exist), else ./moonexec.yaml when present,
 * else the built-in default.
 */
export function loadConfig(kinds: Map<string, BackendKind>, path?: string, cwd = process.cwd()): Config {
  if (path === undefined) {
    const candidate = resolve(cwd, DEFAULT_CONFIG_FILE);
    if (!existsSync(candidate)) return defaultConfig();
    path = candidate;
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`${path}: cannot read config: ${(e as Error).message}`);
  }
  return parseConfig(kinds, text, path);
}

export function parseConfig(kinds: Map<string, BackendKind>, text: string, file: string): Config {
  let doc: unknown;
  try {
    // Required on demand: runs without a config file skip loading the YAML parser.
    const { parse } = createRequire(import.meta.url)("yaml") as typeof import("yaml");
    doc = parse(text, { prettyErrors: true });
  } catch (e) {
    throw new ConfigError(`${file}: invalid YAML: ${(e as Error).message}`);
  }
  return configFromObject(kinds, doc, file);
}

/** Validate an already-parsed config object (the library API accepts these directly). */
export function configFromObject(kinds: Map<string, BackendKind>, doc: unknown, file: string): Config {
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new ConfigError(`${file}: config must be a map with 'namespace' and 'entries', got ${describe(doc)}`);
  }
  const top = doc as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (!TOP_LEVEL.has(key)) throw new ConfigError(`${file}: unknown top-level key '${key}' (expected ${[...TOP_LEVEL].join(", ")})`);
  }
  const namespace = own(top, "namespace") ?? basename(file, extname(file));
  if (typeof namespace !== "string" || !/^[A-Za-z0-9_.-]+$/.test(namespace)) {
    throw new ConfigError(`${file}: 'namespace' must be a word of letters, digits, '_', '.', '-', got ${describe(namespace)}`);
  }
  const list = own(top, "entries") ?? [];
  if (!Array.isArray(list)) throw new ConfigError(`${file}: 'entries' must be a list, got ${describe(list)}`);
  const entries = new Map<string, Entry>();
  const fleets: string[] = [];
  list.forEach((item, i) => {
    const members = expandFleet(kinds, item, file, namespace);
    if (members[0]?.group) fleets.push(members[0].group);
    for (const { raw, from, group } of members) {
      const entry = validateEntry(kinds, raw, `${file}: entry #${i + 1}`, namespace, from);
      if (entries.has(entry.id)) throw new ConfigError(`${entry.where}: duplicate id '${entry.id}'`);
      if (group) entry.fleet = group;
      entries.set(entry.id, entry);
    }
  });
  checkFleetIds(file, fleets, new Set(entries.keys()));
  return { files: [file], entries };
}

function validateEntry(kinds: Map<string, BackendKind>, raw: unknown, at: string, namespace: string, from = ""): Entry {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(`${at}: must be a map, got ${describe(raw)}`);
  }
  const obj = raw as Record<string, unknown>;
  const name = own(obj, "name");
  if (typeof name !== "string" || !/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new ConfigError(`${at}: field 'name' must be a word of letters, digits, '_', '.', '-', got ${describe(name)}`);
  }
  const where = `${at.split(": ")[0]}: entry '${namespace}:${name}'${from}`;
  const kindName = own(obj, "kind");
  if (typeof kindName !== "string") throw new ConfigError(`${where}: field 'kind' is required (one of ${[...kinds.keys()].join(", ")})`);
  const kind = kinds.get(kindName);
  if (!kind) throw new ConfigError(`${where}: unknown kind '${kindName}' (expected one of ${[...kinds.keys()].join(", ")})`);
  const entry: Entry = { id: `${namespace}:${name}`, name, kind: kindName, default_env: {}, where };
  for (const [field, value] of Object.entries(obj)) {
    // Own keys only: 'constructor', 'toString', '__proto__' are unknown fields, not Object.prototype's.
    const type = own(COMMON_FIELDS, field) ?? own(kind.fields, field);
    if (!type) {
      const known = [...Object.keys(COMMON_FIELDS), ...Object.keys(kind.fields)].join(", ");
      throw new ConfigError(`${where}: unknown field '${field}' for kind ${kind.kind} (known: ${known})`);
    }
    if (value === null || value === undefined) continue;
    entry[field] = checkField(where, field, type, value);
  }
  checkEnvMap(where, "default_env", entry.default_env);
  if (entry.default_work_dir?.includes("\0")) throw new ConfigError(`${where}: field 'default_work_dir' must not contain a NUL byte`);
  kind.validate?.(entry, where);
  return entry;
}

/** obj[key] when obj has it as its own property (never from Object.prototype). */
function own<T>(obj: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

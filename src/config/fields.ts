/** Field type checks shared by every entry kind. Each failure names where + field. */
import { ConfigError } from "../errors.js";
import type { FieldType } from "../backend/contract.js";
import { envNameProblem, envValueProblem } from "../process/env-check.js";

export const COMMON_FIELDS: Record<string, FieldType> = {
  name: "string",
  kind: "string",
  default_work_dir: "string",
  default_env: "string-map",
  command_whitelist: "string[]",
};

export function checkField(where: string, field: string, type: FieldType, value: unknown): unknown {
  const fail = (want: string): never => {
    throw new ConfigError(`${where}: field '${field}' must be ${want}, got ${describe(value)}`);
  };
  if (typeof type === "object") {
    if (typeof value !== "string" || !type.enum.includes(value)) fail(`one of ${type.enum.join(", ")}`);
    return value;
  }
  switch (type) {
    case "string":
      if (typeof value !== "string") fail("a string");
      return value;
    case "boolean":
      if (typeof value !== "boolean") fail("true or false");
      return value;
    case "integer":
      // Beyond 2^53 a YAML number is no longer exact (99999999999999999999999 reads as 1e23).
      if (typeof value !== "number" || !Number.isSafeInteger(value)) fail(`an integer between ${-Number.MAX_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}`);
      return value;
    case "string[]":
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) fail("a list of strings");
      return value;
    case "string-map": {
      if (value === null || typeof value !== "object" || Array.isArray(value)) fail("a map of strings");
      // No prototype: a key like '__proto__' or 'toString' is a key like any other.
      const out: Record<string, string> = Object.create(null);
      for (const [k, v] of Object.entries(value as object)) {
        // Numbers and booleans are what YAML makes of `PORT: 8080`; keep them as text.
        if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[k] = String(v);
        else throw new ConfigError(`${where}: field '${field}.${k}' must be a string, got ${describe(v)}`);
      }
      return out;
    }
  }
}

/** Check the names and values of an environment map (default_env). */
export function checkEnvMap(where: string, field: string, env: Record<string, string>): void {
  for (const [k, v] of Object.entries(env)) {
    const problem = envNameProblem(k) ?? envValueProblem(v);
    if (problem) throw new ConfigError(`${where}: field '${field}' has the variable ${JSON.stringify(k)}: environment ${problem}`);
  }
}

export function describe(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  if (typeof value === "number") return `number ${String(value)}`; // JSON would show Infinity and NaN as null
  return `${typeof value} ${JSON.stringify(value)}`;
}

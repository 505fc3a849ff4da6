/**
 * Fleets: one config entry with `hosts:` or `count:` stands for many executors. Each member is
 * the entry with its own name (and, for `hosts:`, its own value of the kind's host field);
 * the entry's name becomes the fleet's id, which `exec.list` / `exec.each` accept.
 */
import { ConfigError } from "../errors.js";
import type { BackendKind } from "../backend/contract.js";
import { describe } from "./fields.js";

/** The fleet fields, beside the kind's own (for the schema test and messages). */
export const FLEET_FIELDS: readonly string[] = ["hosts", "count"];

/** More members than this is a typo more often than a fleet; it also bounds `moonexec check`. */
export const MAX_MEMBERS = 1000;

const NAME = /^[A-Za-z0-9_.-]+$/;

/** One entry to validate: the raw map, and for members the text that says where it came from. */
export interface Expanded {
  raw: unknown;
  /** " (hosts of 'ns:web')" for a member, "" for an ordinary entry. */
  from: string;
  /** The fleet's id for a member. */
  group?: string;
}

const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** An entry with `hosts` or `count` → its members; any other entry → itself. */
export function expandFleet(kinds: Map<string, BackendKind>, raw: unknown, file: string, namespace: string): Expanded[] {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return [{ raw, from: "" }];
  const obj = raw as Record<string, unknown>;
  const hasHosts = own(obj, "hosts") && obj.hosts != null;
  const hasCount = own(obj, "count") && obj.count != null;
  if (!hasHosts && !hasCount) {
    if (own(obj, "hosts") || own(obj, "count")) return [{ raw: strip(obj), from: "" }];
    return [{ raw, from: "" }];
  }
  // The entry's own checks (name, kind) come first, with the usual messages.
  if (typeof obj.name !== "string" || !NAME.test(obj.name) || typeof obj.kind !== "string" || !kinds.has(obj.kind)) return [{ raw: strip(obj), from: "" }];
  const group = `${namespace}:${obj.name}`;
  const where = `${file}: entry '${group}'`;
  const fail = (field: string, msg: string): never => {
    throw new ConfigError(`${where}: field '${field}' ${msg}`);
  };
  if (hasHosts && hasCount) throw new ConfigError(`${where}: fields 'hosts' and 'count' cannot both be set`);
  const kind = kinds.get(obj.kind)!;
  const base = strip(obj);
  const members: Array<[name: string, value: string | undefined]> = [];
  if (hasCount) {
    const n = obj.count;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > MAX_MEMBERS) fail("count", `must be an integer from 1 to ${MAX_MEMBERS}, got ${describe(n)}`);
    for (let i = 1; i <= (n as number); i++) members.push([`${obj.name}${i}`, undefined]);
  } else {
    const field = kind.hostField;
    if (!field) fail("hosts", `is not available for kind ${kind.kind} (it has no per-host field); use count: N for N alike executors`);
    if (own(obj, field!) && obj[field!] != null) fail(field!, "is set per member by 'hosts'; remove it from the entry");
    const hosts = obj.hosts;
    const badName = (at: string, name: unknown, hint = "") =>
      fail(at, `must be a name of letters, digits, '_', '.', '-' (it becomes the executor id '${namespace}:NAME'), got ${describe(name)}${hint}`);
    if (Array.isArray(hosts)) {
      hosts.forEach((h, i) => {
        if (typeof h !== "string" || !NAME.test(h)) badName(`hosts[${i}]`, h, `; to name members yourself, write hosts as a map: { NAME: ${field} }`);
        members.push([h as string, h as string]);
      });
    } else if (typeof hosts === "object" && hosts !== null) {
      for (const [name, value] of Object.entries(hosts)) {
        if (!NAME.test(name)) badName(`hosts.${name}`, name);
        if (typeof value !== "string") fail(`hosts.${name}`, `must be a string (the member's '${field}'), got ${describe(value)}`);
        members.push([name, value as string]);
      }
    } else {
      fail("hosts", `must be a list of names or a map of name: ${field}, got ${describe(hosts)}`);
    }
    if (members.length === 0) fail("hosts", "must not be empty");
    if (members.length > MAX_MEMBERS) fail("hosts", `has ${members.length} members; at most ${MAX_MEMBERS}`);
  }
  const from = ` (${hasHosts ? "hosts" : "count"} of '${group}')`;
  return members.map(([name, value]) => ({
    raw: value === undefined ? { ...base, name } : { ...base, name, [kind.hostField!]: value },
    from,
    group,
  }));
}

/** The entry without its fleet fields. */
function strip(obj: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!FLEET_FIELDS.includes(k)) copy[k] = v;
  return copy;
}

/** A fleet's id must name nothing else: `exec.each("ns:web")` would be ambiguous. */
export function checkFleetIds(file: string, fleets: string[], ids: Set<string>): void {
  const seen = new Set<string>();
  for (const g of fleets) {
    if (ids.has(g)) throw new ConfigError(`${file}: entry '${g}': duplicate id '${g}': it names both a fleet and an executor`);
    if (seen.has(g)) throw new ConfigError(`${file}: entry '${g}': duplicate id '${g}': two fleets have this name`);
    seen.add(g);
  }
}

/**
 * Bad configs are refused with a clear message naming the entry and field — never a stack
 * trace, never accepted only to fail at start. First the cases found by hand (issue 22), then
 * a seeded fuzz of hostile YAML and objects through parseConfig, Host.create and
 * `moonexec check` / `moonexec run`.
 */
import { describe, expect, it } from "vitest";
import { builtinKinds } from "../../src/backend/kinds.js";
import { configFromObject, parseConfig } from "../../src/config/load.js";
import { ConfigError } from "../../src/errors.js";
import { Host } from "../../src/lua/host.js";
import { runCli, tempDir } from "../helpers/cli.js";

const kinds = builtinKinds();
const NATIVE = "name: box\n    kind: exec.native";
const yaml = (entryFields: string) => `namespace: f\nentries:\n  - ${NATIVE}\n    ${entryFields}\n`;
const refused = (text: string) => {
  try {
    parseConfig(kinds, text, "f.yaml");
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error(`accepted: ${text}`);
};

describe("config: hostile fields are refused, naming entry and field", () => {
  it.each(["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf", "__defineGetter__"])("field '%s' is an unknown field", (field) => {
    expect(refused(yaml(`${field}: { x: 1 }`))).toBe(
      `f.yaml: entry 'f:box': unknown field '${field}' for kind exec.native (known: name, kind, default_work_dir, default_env, command_whitelist)`,
    );
  });

  it("__proto__ as a field gives a message, not a TypeError stack trace, from check and run", async () => {
    const dir = tempDir({ "moonexec.yaml": yaml("__proto__: 1"), "s.lua": "print('ran')" });
    for (const args of [["check"], ["run", "s.lua"]]) {
      const r = await runCli(args, { cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("moonexec.yaml: entry 'f:box': unknown field '__proto__'");
      expect(r.stderr).not.toMatch(/TypeError|\n\s+at /);
    }
  });

  it("integers are bounded to what the backend accepts", () => {
    const docker = (f: string) => `namespace: f\nentries:\n  - name: d\n    kind: exec.docker\n    image: x\n    ${f}\n`;
    expect(refused(docker("memory_limit: 99999999999999999999999"))).toBe(
      "f.yaml: entry 'f:d': field 'memory_limit' must be an integer between -9007199254740991 and 9007199254740991, got number 1e+23",
    );
    expect(refused(docker("cpu_quota: 17592186044416"))).toContain("field 'cpu_quota' must be at most 17592186044415");
    expect(refused(docker("pids_limit: 4194305"))).toContain("field 'pids_limit' must be at most 4194304");
    expect(refused(docker("memory_limit: .inf"))).toContain("got number Infinity");
    expect(refused(docker("memory_limit: .nan"))).toContain("got number NaN");
    const incus = (f: string) => `namespace: f\nentries:\n  - name: i\n    kind: exec.incus\n    instance: x\n    ${f}\n`;
    expect(refused(incus("user: 4294967296"))).toContain("field 'user' must be a numeric id between 0 and 4294967295");
    // The bounds themselves pass.
    parseConfig(kinds, docker("cpu_quota: 17592186044415\n    pids_limit: 4194304\n    memory_limit: 9007199254740991"), "f.yaml");
  });

  it("default_env names with '=', empty or NUL, and NUL in values or default_work_dir are refused", () => {
    expect(refused(yaml(`default_env: { "A=B": x }`))).toBe(`f.yaml: entry 'f:box': field 'default_env' has the variable "A=B": environment names must not contain '='`);
    expect(refused(yaml(`default_env: { "": y }`))).toBe(`f.yaml: entry 'f:box': field 'default_env' has the variable "": environment names must not be empty`);
    expect(refused(yaml(`default_env: { "A\\0B": y }`))).toContain("names must not contain a NUL byte");
    expect(refused(yaml(`default_env: { A: "x\\0y" }`))).toContain(`variable "A": environment values must not contain a NUL byte`);
    expect(refused(yaml(`default_work_dir: "/tmp\\0x"`))).toContain("field 'default_work_dir' must not contain a NUL byte");
  });

  it("default_env keys named like Object.prototype members are ordinary variables", () => {
    const c = parseConfig(kinds, yaml(`default_env: { __proto__: a, constructor: b, toString: c }`), "f.yaml");
    const env = c.entries.get("f:box")!.default_env;
    expect(Object.keys(env).sort()).toEqual(["__proto__", "constructor", "toString"]);
    expect(env.toString).toBe("c");
  });
});

/** A small seeded PRNG (mulberry32), so a failing case can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE_KEYS = ["__proto__", "constructor", "toString", "valueOf", "hasOwnProperty", "prototype", "", " ", "=", "A=B", "\0", "name", "kind", "image", "instance", "default_env", "default_work_dir", "command_whitelist", "memory_limit", "cpu_quota", "pids_limit", "user", "group", "warm_sessions", "tmpfs", "volumes", "remote", "namespace", "entries", "version", "ü", "😀"];
const KIND_NAMES = ["exec.native", "exec.docker", "exec.incus", "exec.nope", "", "__proto__"];

function value(r: () => number, depth: number): unknown {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  switch (Math.floor(r() * 12)) {
    case 0:
      return pick([0, -1, 1.5, 1e23, -1e23, Infinity, -Infinity, NaN, 2 ** 53, 2 ** 31, 4294967296, 6 * 1024 * 1024]);
    case 1:
      return pick(["", "x", "/", "/tmp", "\0", "a\0b", "=", "A=B", "unix", "https://127.0.0.1:1", "..", "x".repeat(5000), "ü", "\u{1F600}"]);
    case 2:
      return pick([true, false, null]);
    case 3:
      return depth > 3 ? [] : Array.from({ length: Math.floor(r() * 4) }, () => value(r, depth + 1));
    case 4:
    case 5:
      return depth > 3 ? {} : map(r, depth + 1);
    default:
      return pick([pick(KIND_NAMES), Math.floor(r() * 100), pick(HOSTILE_KEYS)]);
  }
}

function map(r: () => number, depth: number): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  const n = Math.floor(r() * 5);
  for (let i = 0; i < n; i++) Object.defineProperty(m, HOSTILE_KEYS[Math.floor(r() * HOSTILE_KEYS.length)]!, { value: value(r, depth), enumerable: true, configurable: true, writable: true });
  return m;
}

/** A config-shaped document: mostly well-formed entries with one or two hostile parts. */
function doc(r: () => number, nativeOnly: boolean): unknown {
  if (r() < 0.1) return value(r, 0);
  const entries = Array.from({ length: 1 + Math.floor(r() * 3) }, (_, i) => {
    const e: Record<string, unknown> = { name: `e${i}`, kind: nativeOnly ? "exec.native" : KIND_NAMES[Math.floor(r() * 3)] };
    if (e.kind === "exec.docker") e.image = "x";
    if (e.kind === "exec.incus") e.instance = "x";
    Object.assign(e, nativeOnly ? {} : {}, map(r, 1));
    if (nativeOnly) e.kind = r() < 0.8 ? "exec.native" : "exec.nope"; // `check` probes: nothing that could reach the network
    return r() < 0.1 ? value(r, 1) : e;
  });
  const top: Record<string, unknown> = { namespace: r() < 0.9 ? "fz" : value(r, 1), entries };
  if (r() < 0.2) Object.assign(top, map(r, 1));
  return top;
}

describe("config fuzz", () => {
  const SEED = Number(process.env.FUZZ_SEED ?? 22);

  it(`hostile objects and YAML through configFromObject / parseConfig: a ConfigError or a config, nothing else (seed ${SEED})`, { timeout: 60_000 }, async () => {
    const { stringify } = await import("yaml");
    const r = rng(SEED);
    // At most 300 documents or 20 s (a loaded machine gets through fewer).
    const deadline = Date.now() + 20_000;
    let tried = 0;
    let refusedCount = 0;
    for (; tried < 300 && Date.now() < deadline; tried++) {
      const d = doc(r, false);
      for (const attempt of [() => configFromObject(kinds, d, "fz.yaml"), () => parseConfig(kinds, stringify(d, { keepUndefined: false }), "fz.yaml")]) {
        try {
          attempt();
        } catch (e) {
          if (!(e instanceof ConfigError)) throw new Error(`case ${tried}: ${(e as Error).stack}\n${JSON.stringify(d)}`);
          expect(e.message).toMatch(/^fz\.yaml: /);
          refusedCount++;
        }
      }
    }
    expect(tried).toBeGreaterThan(50);
    expect(refusedCount).toBeGreaterThan(0);
  });

  it(`Host.create with hostile config objects: ConfigError or a host (seed ${SEED})`, async () => {
    const r = rng(SEED + 1);
    for (let i = 0; i < 15; i++) {
      const d = doc(r, true);
      let host: Host | undefined;
      try {
        host = await Host.create({ config: d as never });
      } catch (e) {
        if (!(e instanceof ConfigError)) throw new Error(`case ${i}: ${(e as Error).stack}\n${JSON.stringify(d)}`);
      } finally {
        await host?.dispose();
      }
    }
  }, 60_000);

  it(`moonexec check on hostile YAML: exit 0, 1 or 2 with a one-line message, never a stack trace (seed ${SEED})`, async () => {
    const { stringify } = await import("yaml");
    const r = rng(SEED + 2);
    const cases = Array.from({ length: 8 }, () => stringify(doc(r, true)));
    cases.push("entries:\n  - name: a\n    kind: exec.native\n    __proto__: { polluted: 1 }\n", "{", "- 1\n- 2\n", "entries: !!binary aGVsbG8=\n", "&a [*a]\n");
    for (const text of cases) {
      const dir = tempDir({ "moonexec.yaml": text });
      const res = await runCli(["check"], { cwd: dir });
      expect([0, 1, 2], `${text}\n${res.stderr}`).toContain(res.code);
      expect(res.stderr, text).not.toMatch(/internal error|TypeError|\n\s+at /);
      if (res.code === 2) expect(res.stderr).toMatch(/^moonexec check: invalid config: /);
    }
  }, 120_000);
});

/**
 * Fleets and fan-out (docs/fleet.md): `hosts:` / `count:` expansion and its validation,
 * exec.list, exec.each (concurrency limit, failure isolation, fail_fast, release) and
 * exec.print_lines, on native; one fleet each on the real Docker and Incus daemons.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { builtinKinds } from "../../src/backend/kinds.js";
import { compareIds, idPattern } from "../../src/registry/id-pattern.js";
import { Registry } from "../../src/registry/registry.js";
import { describeBackend } from "../helpers/backends.js";
import { dockerBackend, moonexecContainers, TEST_IMAGE } from "../helpers/docker.js";
import { incusEnv, incusUnix } from "../helpers/incus.js";
import { runCli, runLua, tempDir } from "../helpers/cli.js";

const kinds = builtinKinds();
const parse = (yaml: string) => parseConfig(kinds, yaml, "cfg.yaml");
const fails = (yaml: string) => expect(() => parse(yaml));
const PATH = JSON.stringify(process.env.PATH);

describe("fleet config", () => {
  it("a hosts list makes one executor per name, each the entry with its own host field", () => {
    const c = parse(`namespace: fleet
entries:
  - name: web
    kind: exec.incus
    default_env: { A: b }
    user: 1000
    hosts: [web1, web2, web10]
  - name: other
    kind: exec.native
`);
    expect([...c.entries.keys()]).toEqual(["fleet:web1", "fleet:web2", "fleet:web10", "fleet:other"]);
    const e = c.entries.get("fleet:web10")!;
    expect(e).toMatchObject({ name: "web10", kind: "exec.incus", instance: "web10", user: 1000, default_env: { A: "b" }, fleet: "fleet:web" });
    expect(e.where).toBe("cfg.yaml: entry 'fleet:web10' (hosts of 'fleet:web')");
    expect(c.entries.get("fleet:other")!.fleet).toBeUndefined();
    expect(c.entries.has("fleet:web")).toBe(false);
  });

  it("a hosts map names members and gives each its host value; count makes name1..nameN", () => {
    const c = parse(`namespace: f
entries:
  - name: d
    kind: exec.docker
    image: busybox
    hosts: { east: "tcp://127.0.0.1:2375", west: "unix:///run/other.sock" }
  - name: w
    kind: exec.native
    default_work_dir: /tmp
    count: 3
`);
    expect([...c.entries.keys()]).toEqual(["f:east", "f:west", "f:w1", "f:w2", "f:w3"]);
    expect(c.entries.get("f:west")).toMatchObject({ host: "unix:///run/other.sock", image: "busybox", fleet: "f:d" });
    expect(c.entries.get("f:w3")).toMatchObject({ kind: "exec.native", default_work_dir: "/tmp", fleet: "f:w" });
    expect(c.entries.get("f:w1")).not.toHaveProperty("count");
  });

  it("refuses bad fleets before anything runs, naming the entry and the field", () => {
    const entry = (body: string) => `namespace: f\nentries:\n  - name: web\n${body.replace(/^/gm, "    ")}\n`;
    fails(entry("kind: exec.native\ncount: 2\nhosts: [a]")).toThrow("cfg.yaml: entry 'f:web': fields 'hosts' and 'count' cannot both be set");
    fails(entry("kind: exec.native\nhosts: [a, b]")).toThrow("entry 'f:web': field 'hosts' is not available for kind exec.native (it has no per-host field); use count: N");
    fails(entry("kind: exec.incus\ninstance: x\nhosts: [a]")).toThrow("entry 'f:web': field 'instance' is set per member by 'hosts'; remove it from the entry");
    fails(entry("kind: exec.docker\nimage: i\nhosts: [\"tcp://10.0.0.1:2375\"]")).toThrow(
      `entry 'f:web': field 'hosts[0]' must be a name of letters, digits, '_', '.', '-' (it becomes the executor id 'f:NAME'), got string "tcp://10.0.0.1:2375"; to name members yourself, write hosts as a map: { NAME: host }`,
    );
    fails(entry("kind: exec.incus\nhosts: []")).toThrow("entry 'f:web': field 'hosts' must not be empty");
    fails(entry("kind: exec.incus\nhosts: web1")).toThrow("entry 'f:web': field 'hosts' must be a list of names or a map of name: instance, got string");
    fails(entry("kind: exec.incus\nhosts: { a: 3 }")).toThrow("entry 'f:web': field 'hosts.a' must be a string (the member's 'instance'), got number 3");
    fails(entry('kind: exec.incus\nhosts: { "a b": x }')).toThrow("entry 'f:web': field 'hosts.a b' must be a name");
    for (const n of ["0", "1001", '"3"', "1.5"]) fails(entry(`kind: exec.native\ncount: ${n}`)).toThrow("entry 'f:web': field 'count' must be an integer from 1 to 1000");
    // A member's value goes through the kind's own checks, and the message says which member.
    fails(entry('kind: exec.incus\nhosts: { good: ok, bad: "no/slash" }')).toThrow("cfg.yaml: entry 'f:bad' (hosts of 'f:web'): field 'instance' must be an Incus instance name");
    fails(entry('kind: exec.docker\nimage: i\nhosts: { a: "ftp://x:1" }')).toThrow("cfg.yaml: entry 'f:a' (hosts of 'f:web'): field 'host'");
    // Fields of the entry are checked for every member as usual.
    fails(entry("kind: exec.native\ncount: 2\ncolour: red")).toThrow("entry 'f:web1' (count of 'f:web'): unknown field 'colour'");
  });

  it("refuses duplicates: a member id twice, a member clashing with an entry, a fleet id naming anything else", () => {
    fails(`namespace: f\nentries:\n  - {name: web, kind: exec.incus, hosts: [a, b, a]}\n`).toThrow("entry 'f:a' (hosts of 'f:web'): duplicate id 'f:a'");
    fails(`namespace: f\nentries:\n  - {name: a, kind: exec.native}\n  - {name: web, kind: exec.incus, hosts: [a]}\n`).toThrow("entry 'f:a' (hosts of 'f:web'): duplicate id 'f:a'");
    fails(`namespace: f\nentries:\n  - {name: w, kind: exec.native, count: 2}\n  - {name: w1, kind: exec.native}\n`).toThrow("entry 'f:w1': duplicate id 'f:w1'");
    fails(`namespace: f\nentries:\n  - {name: web, kind: exec.native, count: 2}\n  - {name: web, kind: exec.native}\n`).toThrow(
      "cfg.yaml: entry 'f:web': duplicate id 'f:web': it names both a fleet and an executor",
    );
    fails(`namespace: f\nentries:\n  - {name: web, kind: exec.incus, hosts: [a]}\n  - {name: web, kind: exec.incus, hosts: [b]}\n`).toThrow("entry 'f:web': duplicate id 'f:web': two fleets have this name");
  });

  it("ids sort with numbers by value, and patterns are globs", () => {
    expect(["f:web10", "f:web2", "f:db1", "f:web1", "f:web01"].sort(compareIds)).toEqual(["f:db1", "f:web01", "f:web1", "f:web2", "f:web10"]);
    expect(idPattern("fleet:*").test("fleet:a.b")).toBe(true);
    expect(idPattern("fleet:*").test("other:fleet:a")).toBe(false);
    expect(idPattern("f:web?").test("f:web1")).toBe(true);
    expect(idPattern("f:web?").test("f:web10")).toBe(false);
    expect(idPattern("f:w.b").test("f:wxb")).toBe(false); // '.' is literal
    const reg = new Registry(parse(`namespace: f\nentries:\n  - {name: web, kind: exec.native, count: 11}\n  - {name: db, kind: exec.native}\n`), kinds);
    expect(reg.list("f:web")).toEqual(Array.from({ length: 11 }, (_, i) => `f:web${i + 1}`));
    expect(reg.list("*:db")).toEqual(["f:db"]);
    expect(reg.list("f:db")).toEqual(["f:db"]);
    expect(reg.list("f:web1*")).toEqual(["f:web1", "f:web10", "f:web11"]);
    expect(reg.list("nope:*")).toEqual([]);
    expect(reg.list()).toHaveLength(12);
  });

  it("moonexec check names each fleet with its ids, and --json gives each member its fleet", async () => {
    const dir = tempDir({ "moonexec.yaml": `namespace: f\nentries:\n  - {name: web, kind: exec.native, count: 3}\n  - {name: db, kind: exec.native}\n` });
    const r = await runCli(["check"], { cwd: dir });
    expect(r.code).toBe(0);
    const out = r.stdout.toString();
    expect(out).toContain("\nfleet f:web: 3 executors: f:web1, f:web2, f:web3\n");
    expect(out).toMatch(/^f:web3 +exec\.native +ok/m);
    const j = await runCli(["check", "--json"], { cwd: dir });
    const report = JSON.parse(j.stdout.toString());
    expect(report.executors.map((e: { id: string; fleet?: string }) => [e.id, e.fleet])).toEqual([
      ["f:web1", "f:web"],
      ["f:web2", "f:web"],
      ["f:web3", "f:web"],
      ["f:db", undefined],
    ]);
  });
});

/** A native fleet f:web1..N plus f:ctl, for scripts. */
const nativeFleet = (n: number) => `namespace: f
entries:
  - name: web
    kind: exec.native
    count: ${n}
    default_env: { PATH: ${PATH} }
  - name: ctl
    kind: exec.native
    default_env: { PATH: ${PATH} }
`;

describe("exec.each on native executors", () => {
  it("exec.list answers globs, fleet ids and single ids, sorted; a non-string pattern is INVALID", async () => {
    const r = await runLua(
      `local exec = require("exec")
print(table.concat(exec.list("f:web"), " "))
print(table.concat(exec.list("f:*"), " "))
print(table.concat(exec.list("f:ctl"), " "), #exec.list("x:*"))
print(select(2, exec.list(3)))
print(select(2, exec.get("f:web")))`,
      { config: nativeFleet(10) },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString().split("\n")).toEqual([
      "f:web1 f:web2 f:web3 f:web4 f:web5 f:web6 f:web7 f:web8 f:web9 f:web10",
      "f:ctl f:web1 f:web2 f:web3 f:web4 f:web5 f:web6 f:web7 f:web8 f:web9 f:web10",
      "f:ctl\t0",
      'INVALID: exec.list: pattern must be a string like "fleet:*", got number',
      `NOT_FOUND: 'f:web' is a fleet, not an executor: get one of its 10 members (f:web1, ...), or use exec.each("f:web", fn) / exec.list("f:web")`,
      "",
    ]);
  });

  it("runs at most `concurrency` at once, and does run that many side by side", async () => {
    // Six members, two at a time, each a 0.4 s command: three waves, at least 1.2 s; the
    // counter shows two really ran side by side.
    const r = await runLua(
      `local exec = require("exec")
local live, max = 0, 0
local clock = assert(exec.get("f:ctl"))
local function now()
  local p = assert(clock:exec("date +%s%N")); assert(p:start())
  local s = p:stdout_stream():read_all(); p:wait()
  return tonumber(s) / 1e9
end
local began = now()
local results, errors = exec.each("f:web", function(ex, id)
  live = live + 1
  if live > max then max = live end
  local p = assert(ex:exec("sleep 0.4")); assert(p:start()); p:wait()
  live = live - 1
  return id .. "!"
end, { concurrency = 2 })
local took = now() - began
print("max", max, "errors", errors)
for i, r in ipairs(results) do print(i, r.id, r.ok, r.value, r.err) end
-- Under the limit of 2, three waves; without it all six would end in one (about 0.4 s).
print(took >= 1.15 and "time ok" or ("time " .. took))`,
      { config: nativeFleet(6) },
    );
    expect(r.stderr).toBe("");
    const lines = r.stdout.toString().trim().split("\n");
    expect(lines[0]).toBe("max\t2\terrors\tnil");
    expect(lines.slice(1, 7)).toEqual([1, 2, 3, 4, 5, 6].map((i) => `${i}\tf:web${i}\ttrue\tf:web${i}!\tnil`));
    expect(lines[7]).toBe("time ok");
  });

  it("one member failing never stops the others: raised errors, nil-err returns, exec errors and unknown ids are each that id's error", async () => {
    const r = await runLua(
      `local exec = require("exec")
local ran = {}
local results, errors = exec.each({"f:web1", "f:web2", "f:web3", "f:nope", "f:web4", "f:web5"}, function(ex, id)
  ran[#ran + 1] = id
  if id == "f:web1" then error("boom") end
  if id == "f:web2" then return nil, "soft failure" end
  if id == "f:web3" then local p = assert(ex:exec("definitely-not-a-command-xyz")); assert(p:start()) end
  local p = assert(ex:exec({"sh", "-c", "echo hi from $0", id})); assert(p:start())
  local out = p:stdout_stream():read_all(); p:wait()
  return out
end, { concurrency = 3 })
print(#ran, #results, #errors)
for _, r in ipairs(results) do print(r.id, r.ok, r.ok and r.value:gsub("\\n", "") or (r.err.kind .. " | " .. r.err.message)) end
for _, r in ipairs(errors) do io.write(r.id, " ") end print()`,
      { config: nativeFleet(5) },
    );
    expect(r.stderr).toBe("");
    const lines = r.stdout.toString().trim().split("\n");
    expect(lines[0]).toBe("5\t6\t4");
    expect(lines[1]).toMatch(/^f:web1\tfalse\tTASK_FAILED \| main\.lua:5: boom$/);
    expect(lines[2]).toBe("f:web2\tfalse\tTASK_FAILED | soft failure");
    expect(lines[3]).toMatch(/^f:web3\tfalse\tNOT_FOUND \| .*definitely-not-a-command-xyz/);
    expect(lines[4]).toMatch(/^f:nope\tfalse\tNOT_FOUND \| no executor 'f:nope'/);
    expect(lines[5]).toBe("f:web4\ttrue\thi from f:web4");
    expect(lines[6]).toBe("f:web5\ttrue\thi from f:web5");
    expect(lines[7]).toBe("f:web1 f:web2 f:web3 f:nope");
  });

  it("fail_fast: the first failure kills what runs and starts nothing more; those get CANCELLED", async () => {
    const r = await runLua(
      `local exec = require("exec")
local started = {}
local t = os.time()
local results, errors = exec.each("f:web", function(ex, id)
  started[#started + 1] = id
  if id == "f:web1" then
    local p = assert(ex:exec("sleep 0.3")); assert(p:start()); p:wait()
    error("web1 is down")
  end
  local p = assert(ex:exec("sleep 20")); assert(p:start())
  return p:wait()
end, { concurrency = 2, fail_fast = true })
print(table.concat(started, " "), #errors, os.time() - t < 10)
for _, r in ipairs(results) do print(r.id, r.ok, tostring(r.err)) end`,
      { config: nativeFleet(5) },
    );
    expect(r.stderr).toBe("");
    const lines = r.stdout.toString().trim().split("\n");
    expect(lines[0]).toBe("f:web1 f:web2\t5\ttrue");
    expect(lines[1]).toMatch(/^f:web1\tfalse\tTASK_FAILED: main\.lua:\d+: web1 is down$/);
    for (const [i, id] of ["f:web2", "f:web3", "f:web4", "f:web5"].entries()) {
      expect(lines[i + 2]).toBe(`${id}\tfalse\tCANCELLED: cancelled: f:web1 failed and fail_fast is set`);
    }
  }, 15_000);

  it("without fail_fast the same failure leaves the others running to the end", async () => {
    const r = await runLua(
      `local exec = require("exec")
local results, errors = exec.each("f:web", function(ex, id)
  if id == "f:web1" then error("web1 is down") end
  local p = assert(ex:exec("sleep 0.2")); assert(p:start())
  return p:wait()
end, { concurrency = 2 })
for _, r in ipairs(results) do print(r.id, r.ok, r.value) end`,
      { config: nativeFleet(3) },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("f:web1\tfalse\tnil\nf:web2\ttrue\t0\nf:web3\ttrue\t0\n");
  });

  it("releases each member's executor when its function returns: its commands are killed", async () => {
    const r = await runLua(
      `local exec = require("exec")
local results = exec.each("f:web", function(ex, id)
  local p = assert(ex:exec("sleep 60", { background = true }))
  return p:pid()
end)
local ctl = assert(exec.get("f:ctl"))
for _, r in ipairs(results) do
  local p = assert(ctl:exec({"sh", "-c", "kill -0 $0 2>/dev/null && echo alive || echo gone", tostring(r.value)}))
  assert(p:start())
  io.write(r.id, " ", p:stdout_stream():read_all())
end`,
      { config: nativeFleet(3) },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("f:web1 gone\nf:web2 gone\nf:web3 gone\n");
  });

  it("bad arguments are INVALID (or NOT_FOUND for a pattern matching nothing) and run nothing", async () => {
    const r = await runLua(
      `local exec = require("exec")
local ran = false
local fn = function() ran = true end
local function show(...) local v, err = ... ; print(v, tostring(err)) end
show(exec.each("f:web", "not a function"))
show(exec.each(42, fn))
show(exec.each({"f:web1", 3}, fn))
show(exec.each({"f:web1", "f:web1"}, fn))
show(exec.each("f:web", fn, { concurrency = 0 }))
show(exec.each("f:web", fn, { concurrency = 2.5 }))
show(exec.each("f:web", fn, { fail_fast = "yes" }))
show(exec.each("f:web", fn, { parallel = 3 }))
show(exec.each("f:wbe*", fn))
print("ran", ran)
local results, errors = exec.each({}, fn)
print(#results, errors)`,
      { config: nativeFleet(2) },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString().trim().split("\n")).toEqual([
      "nil\tINVALID: exec.each: fn must be a function(executor, id), got string",
      'nil\tINVALID: exec.each: ids must be a list of executor ids or a pattern like "fleet:*", got number',
      "nil\tINVALID: exec.each: ids[2] must be a string, got number",
      "nil\tINVALID: exec.each: ids[2]: 'f:web1' is listed twice",
      "nil\tINVALID: exec.each: opts.concurrency must be an integer ≥ 1, got 0",
      "nil\tINVALID: exec.each: opts.concurrency must be an integer ≥ 1, got 2.5",
      "nil\tINVALID: exec.each: opts.fail_fast must be true or false, got string",
      "nil\tINVALID: exec.each: unknown option 'parallel' (known: concurrency, fail_fast)",
      "nil\tNOT_FOUND: exec.each: no executor matches 'f:wbe*' (configured: f:ctl, f:web1, f:web2)",
      "ran\tfalse",
      "0\tnil",
    ]);
  });

  it("print_lines prefixes whole lines: output written in halves by hosts side by side never mixes within a line", async () => {
    // Each command waits until all four run, then writes every line in two halves with a
    // pause between, and a last line without a newline.
    const r = await runLua(
      `local exec = require("exec")
local results, errors = exec.each("f:web", function(ex, id)
  local p = assert(ex:exec({"sh", "-c", [[
touch "ready-$0"; n=0; while [ $(ls ready-* | wc -l) -lt 4 ] && [ $n -lt 1000 ]; do sleep 0.01; n=$((n+1)); done
for i in 1 2 3 4 5 6 7 8 9 10; do printf '%s-%s-' "$0" $i; sleep 0.02; printf 'end\\n'; printf 'e%s-' $i >&2; sleep 0.01; printf 'err\\n' >&2; done
printf 'tail-%s' "$0"]], id}))
  assert(p:start())
  assert(exec.print_lines(p, "[" .. id .. "] "))
  return p:wait()
end, { concurrency = 4 })
assert(errors == nil)
local s = assert(exec.get("f:ctl")):exec("printf 'x\\ny'")
assert(s:start())
assert(exec.print_lines(s:stdout_stream()))
print(select(2, exec.print_lines("nope")), select(2, exec.print_lines(s, 5)))`,
      { config: nativeFleet(4) },
    );
    const out = r.stdout.toString().split("\n");
    const err = r.stderr.split("\n");
    expect(out.at(-1)).toBe("");
    expect(err.at(-1)).toBe("");
    const tail = out.slice(-4, -1);
    expect(tail).toEqual(["x", "y", "INVALID: exec.print_lines: source must be a process or a stream, got string\tINVALID: exec.print_lines: prefix must be a string, got number"]);
    const fleetOut = out.slice(0, -4);
    expect(fleetOut).toHaveLength(4 * 11);
    for (const n of [1, 2, 3, 4]) {
      const id = `f:web${n}`;
      const mine = fleetOut.filter((l) => l.startsWith(`[${id}] `));
      expect(mine).toEqual([...Array.from({ length: 10 }, (_, i) => `[${id}] ${id}-${i + 1}-end`), `[${id}] tail-${id}`]);
      expect(err.filter((l) => l.startsWith(`[${id}] `))).toEqual(Array.from({ length: 10 }, (_, i) => `[${id}] e${i + 1}-err`));
    }
    expect(err.slice(0, -1)).toHaveLength(40);
    // The hosts really wrote side by side: each one's first line comes before the others' last.
    for (const a of [1, 2, 3, 4]) {
      for (const b of [1, 2, 3, 4]) {
        if (a !== b) expect(fleetOut.indexOf(`[f:web${a}] f:web${a}-1-end`)).toBeLessThan(fleetOut.indexOf(`[f:web${b}] tail-f:web${b}`));
      }
    }
  });
});

describeBackend(dockerBackend, () => {
  it("a count: fleet of containers: each member has its own container, removed when its function returns", async () => {
    const r = await runLua(
      `local exec = require("exec")
local results, errors = exec.each("dk:box", function(ex, id)
  local p = assert(ex:exec("hostname")); assert(p:start())
  local name = p:stdout_stream():read_all():gsub("\\n", "")
  assert(p:wait() == 0)
  return name
end, { concurrency = 3 })
assert(errors == nil, errors and tostring(errors[1].err))
for _, r in ipairs(results) do print(r.id, r.value) end`,
      { config: `namespace: dk\nentries:\n  - name: box\n    kind: exec.docker\n    image: ${TEST_IMAGE}\n    count: 3\n` },
    );
    expect(r.stderr).toBe("");
    const lines = r.stdout.toString().trim().split("\n").map((l) => l.split("\t"));
    expect(lines.map((l) => l[0])).toEqual(["dk:box1", "dk:box2", "dk:box3"]);
    expect(new Set(lines.map((l) => l[1])).size).toBe(3);
    for (const id of ["dk:box1", "dk:box2", "dk:box3"]) expect(await moonexecContainers(id)).toEqual([]);
  }, 60_000);
});

describeBackend(incusUnix, () => {
  it("a hosts: fleet of Incus instances: members run in their instance, a missing instance fails alone", async () => {
    const r = await runLua(
      `local exec = require("exec")
local results, errors = exec.each("lab:web", function(ex, id)
  local p = assert(ex:exec({"sh", "-c", "echo $0 on $(hostname)", id})); assert(p:start())
  local out = p:stdout_stream():read_all():gsub("\\n", "")
  assert(p:wait() == 0)
  return out
end)
for _, r in ipairs(results) do print(r.id, r.ok, r.value or r.err.kind) end
print(#errors)`,
      {
        config: `namespace: lab
entries:
  - name: web
    kind: exec.incus
    remote: "unix:${incusEnv.socket}"
    hosts: { a: ${incusEnv.instance}, b: ${incusEnv.instance}, gone: moonexec-fleet-no-such-instance }
`,
      },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString().trim().split("\n")).toEqual([
      `lab:a\ttrue\tlab:a on ${incusEnv.instance}`,
      `lab:b\ttrue\tlab:b on ${incusEnv.instance}`,
      "lab:gone\tfalse\tNOT_FOUND",
      "1",
    ]);
  }, 60_000);
});

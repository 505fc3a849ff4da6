// SSH: a fleet of ten loopback sshd's against parallel-ssh and ansible, sequential execs on
// one executor against the ssh CLI with ControlMaster, and stdout throughput against
// `ssh host dd … | wc -c`. Needs scripts/ssh-setup.sh (the sshd's) and
// scripts/ssh-bench-setup.sh (pssh, ansible-core); rows whose tools are missing are skipped.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Host } from "../dist/index.js";
import { compare, pairedRatio, record, run, skip } from "./lib.js";

const ENV_FILE = "/var/lib/moonexec-test/ssh/env";
/** Commands per host in the fleet rows, and hosts at once (the figures). */
const PER_HOST = 20;
const CONCURRENCY = 10;
const EXECS = 100;
const BYTES = 256 * 1024 ** 2;
// A fleet round takes ~1 min with pssh and several with ansible on the reference machine.
const FLEET_RUNS = Number(process.env.BENCH_SSH_FLEET_RUNS ?? 3);
const ANSIBLE_RUNS = Number(process.env.BENCH_SSH_ANSIBLE_RUNS ?? 2);
/** Which rows to run (comma-separated), all by default: fleet, seq, stream. */
const ROWS = new Set((process.env.BENCH_SSH_ROWS ?? "fleet,seq,stream").split(","));

function readEnv() {
  if (!existsSync(ENV_FILE)) return undefined;
  const kv = {};
  for (const line of readFileSync(ENV_FILE, "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) kv[m[1]] = m[2].replace(/^"(.*)"$/, "$1");
  }
  const hosts = (kv.SSH_TEST_HOSTS ?? "").split(/\s+/).filter(Boolean);
  return { hosts, port: Number(kv.SSH_TEST_PORT ?? 22), user: kv.SSH_TEST_USER, key: kv.SSH_TEST_KEY, knownHosts: kv.SSH_TEST_KNOWN_HOSTS };
}

async function has(cmd) {
  try {
    await run("sh", ["-c", `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

export async function benchSsh() {
  const env = readEnv();
  if (!env || env.hosts.length < CONCURRENCY) return skip("ssh", `${ENV_FILE} with ${CONCURRENCY} hosts missing (run scripts/ssh-setup.sh)`);
  if (!(await has("ssh"))) return skip("ssh", "the ssh CLI is missing (openssh-client)");
  const hosts = env.hosts.slice(0, CONCURRENCY);
  const dir = mkdtempSync(join(tmpdir(), "moonexec-bench-ssh-"));
  const common = { port: env.port, user: env.user, identity_file: env.key, known_hosts: env.knownHosts };
  const host = await Host.create({
    config: {
      namespace: "bench",
      entries: [
        { name: "web", kind: "exec.ssh", ...common, hosts },
        { name: "one", kind: "exec.ssh", ...common, host: hosts[0] },
      ],
    },
  });
  // The same checks for the CLI baselines: strict host keys against the same known_hosts.
  const sshOpts = ["-i", env.key, "-p", String(env.port), "-o", `UserKnownHostsFile=${env.knownHosts}`, "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"];
  const master = ["-o", "ControlMaster=auto", "-o", `ControlPath=${dir}/cm-%C`, "-o", "ControlPersist=600"];
  try {
    if (ROWS.has("fleet")) await fleetRows(host, env, hosts, dir, sshOpts);
    if (ROWS.has("seq")) await sequentialRow(host, env, hosts[0], [...sshOpts, ...master]);
    if (ROWS.has("stream")) await streamRow(host, env, hosts[0], [...sshOpts, ...master]);
  } finally {
    await host.dispose();
    // Stop the ControlMaster the baselines left behind.
    await run("ssh", [...sshOpts, ...master, "-q", "-O", "exit", `${env.user}@${hosts[0]}`]).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 10 hosts × 20 `uname -a`, 10 at a time: one exec.each script against pssh and ansible. */
async function fleetRows(host, env, hosts, dir, sshOpts) {
  const lua = `local results, failed = require("exec").each("bench:web", function(ex, id)
      local n = 0
      for i = 1, ${PER_HOST} do
        local p = ex:exec({"uname", "-a"}); p:start()
        n = n + #p:stdout_stream():read_all()
        assert(p:wait() == 0)
      end
      return n
    end, { concurrency = ${CONCURRENCY} })
    assert(failed == nil, failed and tostring(failed[1].err))`;
  const ours = () => host.runString(lua);
  const label = `ssh fleet: ${hosts.length} hosts × ${PER_HOST} uname -a, ${CONCURRENCY} at a time`;

  if (await has("parallel-ssh")) {
    writeFileSync(join(dir, "hosts"), hosts.map((h) => `${h}:${env.port}`).join("\n") + "\n");
    const pssh = async () => {
      for (let i = 0; i < PER_HOST; i++) {
        const out = await run("parallel-ssh", ["-h", join(dir, "hosts"), "-p", String(CONCURRENCY), "-l", env.user, "-x", sshOpts.filter((o) => o !== "-p" && o !== String(env.port)).join(" "), "-i", "uname", "-a"]);
        if ((out.match(/\[SUCCESS\]/g) ?? []).length !== hosts.length) throw new Error(`parallel-ssh: not every host succeeded:\n${out}`);
      }
    };
    const t = await compare({ lua: ours, pssh }, FLEET_RUNS);
    record(label, t.lua, t.pssh, "parallel-ssh -p 10, 20 runs", 0.5, { ratio: pairedRatio(t, "lua", "pssh") });
  } else {
    skip(`${label} vs parallel-ssh`, "parallel-ssh missing (run scripts/ssh-bench-setup.sh)");
  }

  if (await has("ansible")) {
    const inventory = ["[all]", ...hosts.map((h) => `h${h} ansible_host=${h}`), "[all:vars]", `ansible_user=${env.user}`, `ansible_port=${env.port}`, `ansible_ssh_private_key_file=${env.key}`, "ansible_python_interpreter=/usr/bin/python3", `ansible_ssh_common_args='-o UserKnownHostsFile=${env.knownHosts} -o StrictHostKeyChecking=yes'`];
    writeFileSync(join(dir, "inventory.ini"), inventory.join("\n") + "\n");
    // Ansible's own fast settings: ControlPersist (its default) and pipelining (one ssh
    // command per task instead of copying the module first).
    writeFileSync(join(dir, "ansible.cfg"), `[defaults]\nhost_key_checking = True\nforks = ${CONCURRENCY}\nlocal_tmp = ${dir}/ansible-tmp\n[ssh_connection]\npipelining = True\ncontrol_path_dir = ${dir}/ansible-cp\n`);
    const ansible = async () => {
      for (let i = 0; i < PER_HOST; i++) {
        const out = await run("env", [`ANSIBLE_CONFIG=${join(dir, "ansible.cfg")}`, "ansible", "all", "-i", join(dir, "inventory.ini"), "-m", "command", "-a", "uname -a", "-f", String(CONCURRENCY)]);
        if ((out.match(/\| CHANGED \| rc=0/g) ?? []).length !== hosts.length) throw new Error(`ansible: not every host succeeded:\n${out}`);
      }
    };
    const t = await compare({ lua: ours, ansible }, ANSIBLE_RUNS);
    record(label, t.lua, t.ansible, "ansible all -m command, 20 runs", 0.2, { ratio: pairedRatio(t, "lua", "ansible") });
  } else {
    skip(`${label} vs ansible`, "ansible missing (run scripts/ssh-bench-setup.sh)");
  }
}

/**
 * 100 sequential `echo x` on one executor against 100 `ssh host echo x` through a
 * ControlMaster: both sides keep their connection between rounds (the executor is acquired
 * before timing, the master persists), so the row measures one command, not a login.
 */
async function sequentialRow(host, env, target, sshOpts) {
  await host.runString(`BENCH_EX = assert(require("exec").get("bench:one"))`);
  const lua = `for i = 1, ${EXECS} do local p = BENCH_EX:exec({"echo", "x"}); p:start(); p:stdout_stream():read_all(); assert(p:wait() == 0) end`;
  const cli = async () => {
    for (let i = 0; i < EXECS; i++) await run("ssh", [...sshOpts, `${env.user}@${target}`, "echo", "x"]);
  };
  try {
    const t = await compare({ lua: () => host.runString(lua), cli });
    record(`ssh: ${EXECS} × exec echo x on one host`, t.lua, t.cli, "ssh CLI + ControlMaster", 0.7, { ratio: pairedRatio(t, "lua", "cli") });
  } finally {
    await host.runString(`BENCH_EX:release() BENCH_EX = nil`);
  }
}

/** 256 MiB of zeros from `dd` read in Lua against `ssh host dd … | wc -c` (through the master). */
async function streamRow(host, env, target, sshOpts) {
  const mib = BYTES / 1024 ** 2;
  await host.runString(`BENCH_EX = assert(require("exec").get("bench:one"))`);
  const lua = `local p = BENCH_EX:exec({"dd", "if=/dev/zero", "bs=1048576", "count=${mib}"}); p:start()
    local s, n = p:stdout_stream(), 0
    while true do local c = s:read() if not c then break end n = n + #c end
    assert(p:wait() == 0 and n == ${BYTES}, n)`;
  const quoted = [...sshOpts, `${env.user}@${target}`].map((a) => `'${a}'`).join(" ");
  const cli = async () => {
    const out = await run("sh", ["-c", `ssh ${quoted} dd if=/dev/zero bs=1048576 count=${mib} 2>/dev/null | wc -c`]);
    if (Number(out) !== BYTES) throw new Error(`ssh dd | wc -c gave ${out}`);
  };
  try {
    const r = await compare({ lua: () => host.runString(lua), cli });
    const mbps = (ms) => BYTES / 1e6 / (ms / 1000);
    const ratio = 1 / pairedRatio(r, "lua", "cli"); // a rate: theirs time over ours
    record(`ssh: ${mib} MiB stdout via read()`, mbps(r.lua), mbps(r.cli), "ssh host dd | wc -c", 0.9, { unit: "MB/s", higherIsBetter: true, ratio });
  } finally {
    await host.runString(`BENCH_EX:release() BENCH_EX = nil`);
  }
}

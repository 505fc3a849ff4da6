/**
 * Incus cluster: a one-member cluster (a second, private incusd made by
 * scripts/incus-setup.sh, described in /var/lib/moonexec-test/incus-cluster/env), reached over
 * HTTPS at the member's address and over its unix socket. A cluster presents its cluster
 * certificate, not the member's server.crt: pinning that one is refused with the fingerprint
 * the server really has. `moonexec check` names the member that holds the instance.
 */
import { expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { describeBackend, type BackendUnderTest } from "../helpers/backends.js";
import { incusEnv } from "../helpers/incus.js";
import { runCli, runLua, tempDir } from "../helpers/cli.js";

const ENV_FILE = "/var/lib/moonexec-test/incus-cluster/env";

function readEnv(): Record<string, string> {
  const kv: Record<string, string> = {};
  if (!existsSync(ENV_FILE)) return kv;
  for (const line of readFileSync(ENV_FILE, "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) kv[m[1]!] = m[2]!;
  }
  return kv;
}
const env = readEnv();

const cluster: BackendUnderTest = {
  name: "incus-cluster",
  entryYaml: "",
  unavailable: async () => {
    if (!existsSync(ENV_FILE)) return `${ENV_FILE} missing: run scripts/incus-setup.sh (as root)`;
    if (!existsSync(env.INCUS_CLUSTER_SOCKET ?? "")) return `no cluster daemon socket at ${env.INCUS_CLUSTER_SOCKET}: run scripts/incus-setup.sh`;
    return undefined;
  },
};

const https = (name: string, pin: string) =>
  `{ name: ${name}, kind: exec.incus, instance: ${env.INCUS_CLUSTER_INSTANCE}, remote: "${env.INCUS_CLUSTER_HTTPS}", ` +
  `client_cert: "${incusEnv.clientCert}", client_key: "${incusEnv.clientKey}", ${pin} }`;

const CONFIG = () =>
  `namespace: cl\nentries:\n` +
  `  - ${https("cert", `server_cert: "${env.INCUS_CLUSTER_CERT}"`)}\n` +
  `  - ${https("fp", `server_fingerprint: "${env.INCUS_CLUSTER_FINGERPRINT}"`)}\n` +
  `  - name: sock\n    kind: exec.incus\n    instance: ${env.INCUS_CLUSTER_INSTANCE}\n    remote: "unix:${env.INCUS_CLUSTER_SOCKET}"\n`;

describeBackend(cluster, () => {
  it("runs commands through the member's HTTPS address (server_cert and server_fingerprint pinning) and its unix socket", async () => {
    const r = await runLua(
      `
local exec = require("exec")
for _, id in ipairs({"cl:cert", "cl:fp", "cl:sock"}) do
  local ex = assert(exec.get(id))
  local p = assert(ex:exec({"sh", "-c", "hostname; cat; echo err >&2; exit 7"}))
  assert(p:write_stdin("in-" .. id .. "\\n"))
  assert(p:close_stdin())
  assert(p:start())
  local out = p:stdout_stream():read_all()
  io.write(id, " ", out:gsub("\\n", " "), p:stderr_stream():read_all():gsub("\\n", ""), " ", p:wait(), "\\n")
  local s = assert(ex:exec({"sleep", "30"}))
  assert(s:start())
  assert(s:signal("TERM"))
  io.write(id, " signal ", s:wait(), " ", s:signal_name(), "\\n")
  assert(ex:push_file("x", "/tmp/" .. id:gsub(":", "-")))
  io.write(id, " file ", ex:pull_file("/tmp/" .. id:gsub(":", "-")), "\\n")
  ex:release()
end
`,
      { config: CONFIG() },
    );
    expect(r.stderr).toBe("");
    const inst = env.INCUS_CLUSTER_INSTANCE;
    expect(r.stdout.toString()).toBe(
      ["cl:cert", "cl:fp", "cl:sock"].map((id) => `${id} ${inst} in-${id} err 7\n${id} signal 143 SIGTERM\n${id} file x\n`).join(""),
    );
  }, 60_000);

  it("moonexec check names the cluster member that holds the instance", async () => {
    const dir = tempDir({ "moonexec.yaml": CONFIG() });
    const r = await runCli(["check"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toContain(`instance ${env.INCUS_CLUSTER_INSTANCE} (project default, cluster member ${env.INCUS_CLUSTER_MEMBER}): Running`);
  }, 60_000);

  it("pinning the member's server.crt instead of the cluster certificate is refused, naming the fingerprint presented", async () => {
    const r = await runLua(`local ex, e = require("exec").get("cl:member") print(e.kind, e.message)`, {
      config: `namespace: cl\nentries:\n  - ${https("member", `server_cert: "${env.INCUS_CLUSTER_SOCKET!.replace(/unix\.socket$/, "server.crt")}"`)}\n`,
    });
    expect(r.stdout.toString()).toMatch(new RegExp(`^PERMISSION_DENIED\\tserver certificate pinning failed for ${env.INCUS_CLUSTER_HTTPS}.*the server presented sha256 ${env.INCUS_CLUSTER_FINGERPRINT}`));
  }, 60_000);
});

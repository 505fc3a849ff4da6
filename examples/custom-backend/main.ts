/**
 * A host with a custom executor kind (canned-kind.ts): Lua scripts use it through
 * require("exec") exactly like the built-in backends.
 *
 * Run from the repository root (after `npm run build`):
 *   npx tsc -p examples/custom-backend && node examples/custom-backend/out/main.js
 */
import { ConfigError, Host } from "moonexec";
import { cannedKind } from "./canned-kind.js";

const entries = [{ name: "web", kind: "example.canned", replies: { hostname: "web-1\n", "uname -s": "Linux\n" } }];
const host = await Host.create({ kinds: [cannedKind], config: { namespace: "demo", entries } });

await host.runString(`
  local exec = require("exec")
  local web = assert(exec.get("demo:web"))
  for _, cmd in ipairs({ "hostname", "uname -s", "reboot" }) do
    local p = assert(web:exec(cmd)); assert(p:start())
    local out = assert(p:stdout_stream():read_all())
    local err = assert(p:stderr_stream():read_all())
    print(cmd .. ": " .. p:wait() .. " " .. (out .. err):gsub("\\n$", ""))
  end
`);
await host.dispose();

// Entries of the custom kind are checked like any other: the error names the entry and field.
try {
  await Host.create({ kinds: [cannedKind], config: { namespace: "demo", entries: [{ name: "db", kind: "example.canned" }] } });
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  console.log(`config error: ${e.message}`);
}
console.log("done");

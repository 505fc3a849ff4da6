/**
 * A TypeScript application that embeds moonexec: it registers an `app` module written in
 * TypeScript, loads two Lua plugins, calls their exported functions with JS values, prints
 * the results and disposes the host (which stops everything the plugins started).
 *
 * Run from the repository root (after `npm run build`):
 *   npx tsc -p examples/plugin-host && node examples/plugin-host/out/main.js
 */
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Host, ExecError, type AuditEvent } from "moonexec";

// Compiled to out/main.js; the plugins live beside main.ts.
const here = dirname(fileURLToPath(import.meta.url));
const plugin = (name: string) => join(basename(here) === "out" ? dirname(here) : here, "plugins", `${name}.lua`);

const settings: Record<string, string> = { greeting: "Hello" };
const log: string[] = [];
const audit: AuditEvent[] = [];

const host = await Host.create({
  // A config object (a YAML file path works too): one native executor, two commands allowed.
  config: {
    namespace: "demo",
    entries: [{ name: "sh", kind: "exec.native", default_env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, command_whitelist: ["uname -s", "wc -w"] }],
  },
  timeLimit: 10, // seconds for each call into Lua
  memoryLimit: 64 * 1024 * 1024,
  // Lua modules written in TypeScript: require("app") in a plugin.
  modules: {
    app: {
      log: (message: string) => {
        log.push(message);
      },
      // An async function: the calling plugin waits for it; the host keeps serving others.
      setting: async (key: string) => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        if (!(key in settings)) throw new ExecError("NOT_FOUND", `no setting '${key}'`);
        return settings[key];
      },
    },
  },
  audit: (event) => audit.push(event), // every command that ran, for the log below
});

try {
  const text = await host.loadPlugin(plugin("text"));
  const system = await host.loadPlugin(plugin("system"));

  console.log("text.shout:", await text.call("shout", "hello"));
  console.log("text.stats:", JSON.stringify(await text.call("stats", { text: "the quick brown fox jumps", min: 5 })));
  console.log("text.greeting:", JSON.stringify(await text.callMulti("greeting", "Ada")));
  console.log("system.kernel:", JSON.stringify(await system.callMulti("kernel")));
  console.log("system.count_words:", JSON.stringify(await system.callMulti("count_words", "one two three four")));
  console.log("system.forbidden:", await system.call("forbidden"));
  console.log("app.log:", JSON.stringify(log));
  for (const e of audit) console.log(`audit: ${e.executor} ${JSON.stringify(e.argv)} exit ${e.exit_code}`);
} finally {
  await host.dispose();
}
console.log("disposed");

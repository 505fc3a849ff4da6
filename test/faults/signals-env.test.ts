/**
 * Conformance fixes on every backend: p:signal("INT") stops `sleep` and reaches a `trap`
 * as on native (no command may start with SIGINT ignored), and the environment holds no
 * PWD that nothing set.
 */
import { expect, it } from "vitest";
import { allBackends, configFor, describeBackend, EXECUTOR_ID } from "../helpers/backends.js";
import "../helpers/docker.js";
import "../helpers/incus.js";
import { runLua } from "../helpers/cli.js";

for (const backend of allBackends()) {
  describeBackend(backend, () => {
    it("signal INT stops sleep and reaches a trap; env has no PWD", async () => {
      const r = await runLua(
        `local exec, task = require("exec"), require("task")
        local ex = assert(exec.get("${EXECUTOR_ID}"))
        local function interrupted(argv)
          local p = assert(ex:exec(argv, {timeout = 8}))
          assert(p:start())
          task.sleep(0.5)
          assert(p:signal("INT"))
          local out = p:stdout_stream():read_all()
          local code, err = p:wait()
          return ("%s|%s|%s|%s"):format(out, code, tostring(p:signal_name()), tostring(err))
        end
        print(interrupted({"sleep", "7"}))
        print(interrupted({"sh", "-c", "trap 'echo got INT; exit 7' INT; sleep 7 & wait"}))
        local p = assert(ex:exec({"env"}))
        assert(p:start())
        local env = p:stdout_stream():read_all()
        p:wait()
        print(env:match("\\nPWD=") or env:match("^PWD=") or "no PWD")
        ex:release()`,
        { config: configFor(backend) },
      );
      expect(r.stderr).toBe("");
      expect(r.stdout.toString()).toBe("|130|SIGINT|nil\ngot INT\n|7|nil|nil\nno PWD\n");
    }, 30_000);
  });
}

/**
 * The Lua exec API, proven on every backend through the real CLI.
 * Each backend registers in test/helpers/backends.ts; the same scripts run on all of them.
 */
import { createHash } from "node:crypto";
import { expect, it } from "vitest";
import { allBackends, configFor, describeBackend, EXECUTOR_ID } from "../helpers/backends.js";
import "../helpers/docker.js";
import "../helpers/incus.js";
import "../helpers/ssh.js";
import "../helpers/docker-remote.js";
import { runLua } from "../helpers/cli.js";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

for (const backend of allBackends()) {
  describeBackend(backend, () => {
    const config = configFor(backend);
    const lua = (body: string) => `local exec = require("exec")\nlocal ex = assert(exec.get("${EXECUTOR_ID}"))\n${body}\nex:release()\n`;

    it("separates stdout and stderr and reports the exit code", async () => {
      const r = await runLua(
        lua(`
          local p = assert(ex:exec({"sh", "-c", "echo out; echo err >&2; exit 3"}))
          assert(p:start())
          local o = p:stdout_stream():read_all()
          local e = p:stderr_stream():read_all()
          local code, err = p:wait()
          io.write(("[%s][%s][%s][%s]"):format(o, e, code, tostring(err)))`),
        { config },
      );
      expect(r.stderr).toBe("");
      expect(r.stdout.toString()).toBe("[out\n][err\n][3][nil]");
      expect(r.code).toBe(0);
    });

    it("gives streams before start() without losing output", async () => {
      const r = await runLua(
        lua(`
          local p = assert(ex:exec("sh -c 'printf first; printf second >&2'"))
          local so, se = p:stdout_stream(), p:stderr_stream()
          assert(p:start())
          assert(p:wait() == 0)
          io.write(so:read_all(), "|", se:read_all())`),
        { config },
      );
      expect(r.stdout.toString()).toBe("first|second");
    });

    for (const size of [0, 1, 65535, 65536, 65537, 50 * 1024 * 1024]) {
      it(`passes ${size} random bytes through byte-exact`, async () => {
        const r = await runLua(
          lua(`
            local p = assert(ex:exec({"sh", "-c", "f=/tmp/mx.$$; head -c ${size} /dev/urandom > $f; sha256sum $f >&2; cat $f; rm -f $f"}))
            assert(p:start())
            local s = p:stdout_stream()
            while true do
              local chunk, err = s:read()
              assert(not err, tostring(err))
              if chunk == nil then break end
              io.write(chunk)
            end
            io.stderr:write(p:stderr_stream():read_all())
            assert(p:wait() == 0)`),
          { config },
        );
        expect(r.code).toBe(0);
        expect(r.stdout.length).toBe(size);
        expect(r.stderr.split(" ")[0]).toBe(sha256(r.stdout));
      }, 60_000);
    }

    it("decodes CP949 split across reads", async () => {
      // 한글 in CP949 is C7 D1 B1 DB; the first character is split between two writes.
      const r = await runLua(
        lua(`
          local p = assert(ex:exec({"sh", "-c", "printf '\\\\307'; sleep 0.3; printf '\\\\321\\\\261\\\\333\\\\n'"}, {encoding = "cp949"}))
          assert(p:start())
          local s, parts = p:stdout_stream(), {}
          while true do
            local c = s:read(1)
            if not c then break end
            parts[#parts + 1] = c
          end
          p:wait()
          io.write(table.concat(parts))`),
        { config },
      );
      expect(r.stdout.toString("utf8")).toBe("한글\n");
    });

    it("reads lines, writes stdin and sends EOF", async () => {
      const r = await runLua(
        lua(`
          local p = assert(ex:exec("sort"))
          local s = p:stdout_stream()
          assert(p:start())
          assert(p:write_stdin("pear\\napple\\n"))
          assert(p:write_stdin("fig\\n"))
          assert(p:close_stdin())
          local lines = {}
          for line in s:lines() do lines[#lines + 1] = line end
          io.write(table.concat(lines, ","), ";", (p:wait()))
          local q = assert(ex:exec("cat", {stdin = "fed\\0bytes"}))
          assert(q:start())
          io.write(";", q:stdout_stream():read_all(), ";", (q:wait()))`),
        { config },
      );
      expect(r.stderr).toBe("");
      expect(r.stdout.toString()).toBe("apple,fig,pear;0;fed\0bytes;0");
    });

    it("stream:expect answers a prompt and matches on stdout and stderr", async () => {
      const r = await runLua(
        lua(`
          local p = assert(ex:exec({"sh", "-c", "printf 'name? '; read n; echo \\"hi $n\\" >&2; echo done"}))
          assert(p:start())
          assert(p:stdout_stream():expect("name%? $", 20))
          assert(p:write_stdin("bob\\n"))
          local _, who = assert(p:stderr_stream():expect("hi (%a+)", 20))
          local v, err = p:stdout_stream():expect("never", 20)
          io.write(who, "|", tostring(v), "|", err.kind, "|", tostring(p:wait()))`),
        { config },
      );
      expect(r.stderr).toBe("");
      expect(r.stdout.toString()).toBe("bob|nil|CLOSED|0");
    });

    it("kills the whole process tree on timeout", async () => {
      const t0 = Date.now();
      const r = await runLua(
        lua(`
          local p = assert(ex:exec({"sh", "-c", "sleep 100 & sleep 100"}, {timeout = 1}))
          assert(p:start())
          local code, err = p:wait()
          io.write(code, " ", err and err.kind or "none")`),
        { config },
      );
      expect(r.stdout.toString()).toBe("137 TIMEOUT");
      expect(Date.now() - t0).toBeLessThan(20_000);
    });

    it("delivers signals and reports the signal exit", async () => {
      const r = await runLua(
        lua(`
          local p = assert(ex:exec({"sh", "-c", "echo ready; sleep 30"}))
          assert(p:start())
          assert(p:stdout_stream():read_line() == "ready")
          assert(p:signal("TERM"))
          io.write((p:wait()))`),
        { config },
      );
      expect(r.stdout.toString()).toBe("143");
    });

    it("finishes when stderr floods while stdout is read", async () => {
      const r = await runLua(
        lua(`
          local p = assert(ex:exec({"sh", "-c", "head -c 10000000 /dev/zero >&2; echo done"}))
          assert(p:start())
          io.write(p:stdout_stream():read_line(), " ", (p:wait()), " ")
          io.write(#p:stderr_stream():read_all())`),
        { config },
      );
      expect(r.stdout.toString()).toBe("done 0 10000000");
    }, 60_000);

    it("rejects commands outside the whitelist without running them", async () => {
      const wl = configFor(backend).replace("name: box", "name: box\n    command_whitelist: [\"echo ok\"]");
      const r = await runLua(
        lua(`
          local ok = assert(ex:exec("echo ok")); assert(ok:start()); io.write(ok:stdout_stream():read_all())
          for _, cmd in ipairs({"echo ok; rm -rf /", "echo  ok", "echo ok\\n", " echo ok", {"echo", "ok;"}, {"echo ok"}, {"echo", "ok", ""}}) do
            local p, err = ex:exec(cmd)
            io.write(tostring(p), " ", err.kind, "\\n")
          end`),
        { config: wl },
      );
      expect(r.stderr).toBe("");
      expect(r.stdout.toString()).toBe("ok\n" + "nil PERMISSION_DENIED\n".repeat(7));
    });

    it("runs background processes: listed, attached with replay, killed by tag", async () => {
      const r = await runLua(
        lua(`
          local bg = assert(ex:exec({"sh", "-c", "echo one; echo two; sleep 60"}, {background = true, tag = "bg1"}))
          assert(bg:stdout_stream():read_line() == "one")
          local list = ex:processes()
          io.write(#list, " ", list[1].tag, " ", list[1].cmd, "\\n")
          local view = assert(ex:attach("bg1"))
          io.write(view:stdout_stream():read_line(), " ", view:stdout_stream():read_line(), "\\n")
          assert(ex:kill("bg1", "KILL"))
          io.write(bg:wait(), " ", #ex:processes(), "\\n")`),
        { config },
      );
      expect(r.stderr).toBe("");
      expect(r.stdout.toString()).toBe("1 bg1 sh -c echo one; echo two; sleep 60\none two\n137 0\n");
    });

    it("release() kills what the executor still runs", async () => {
      const r = await runLua(
        lua(`
          local p = assert(ex:exec({"sh", "-c", "echo up; sleep 60"}))
          assert(p:start())
          assert(p:stdout_stream():read_line() == "up")
          local t = os.time()
          assert(ex:release())
          assert(ex:release()) -- idempotent
          local code = p:wait()
          io.write(code ~= 0 and "killed" or "alive", " ", os.time() - t < 15 and "fast" or "slow")`),
        { config },
      );
      expect(r.stderr).toBe("");
      expect(r.stdout.toString()).toBe("killed fast");
    });
  });
}

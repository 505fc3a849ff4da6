// Runs in a fresh process: peak RSS idle (host ready) and after streaming 1 GiB through read().
import { Host } from "../dist/index.js";

const host = await Host.create();
await host.runString(`local sh = require("exec").get("local:shell"); local p = sh:exec("true"); p:start(); p:wait()`);
const idle = process.resourceUsage().maxRSS;
await host.runString(`local sh = require("exec").get("local:shell")
  local p = sh:exec({"dd", "if=/dev/zero", "bs=1M", "count=1024", "status=none"}); p:start()
  local s = p:stdout_stream()
  while true do local c = s:read() if not c then break end local x = 0 for i = 1, 500 do x = x + i end end
  p:wait()`);
const peak = process.resourceUsage().maxRSS;
await host.dispose();
process.stdout.write(JSON.stringify({ idleKB: idle, peakKB: peak }));

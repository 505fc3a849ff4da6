/** Opening an exec.native executor: loaded on first use (kind.ts), with execa, the process watchdog and the socket readers. */
import type { ExecutorBackend } from "../contract.js";
import { startNative } from "./native-command.js";
import { executorOpened, executorReleased } from "./stdout-route.js";
import { CommandGroups } from "./groups.js";
import { ensureWatchdog } from "./watchdog.js";

export async function openNative(): Promise<ExecutorBackend> {
  const { execa } = await import("execa");
  executorOpened();
  ensureWatchdog();
  const groups = new CommandGroups();
  let released = false;
  return {
    terminals: true,
    spawn: (spec) => startNative(execa, spec, groups),
    release: async () => {
      if (released) return;
      released = true;
      groups.killAll(); // groups whose leader exited (the executor's running commands are disposed first)
      await executorReleased();
    },
  };
}

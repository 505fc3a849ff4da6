/**
 * The process groups of one native executor's commands. A command's group can outlive its
 * leader (`sh -c 'sleep 100 &'`): such groups are kept until release() kills them, and the
 * watchdog (watchdog.ts) knows every group that may still have members.
 *
 * A group id names our group only while the group has members: once it is empty the kernel
 * may hand the id to someone else's process. So a lingering group is checked every
 * GROUP_PRUNE_MS and forgotten as soon as it is empty.
 */
import { constants } from "node:os";
import { forgetGroup, watchGroup } from "./watchdog.js";
import { GROUP_PRUNE_MS } from "../../constants.js";

export class CommandGroups {
  private readonly lingering = new Set<number>();
  private timer: NodeJS.Timeout | undefined;

  /** A command started as the leader of group `pgid`. */
  started(pgid: number): void {
    watchGroup(pgid);
  }

  /** The leader was reaped: keep the group while members remain. */
  leaderExited(pgid: number): void {
    if (!hasMembers(pgid)) {
      forgetGroup(pgid);
      return;
    }
    this.lingering.add(pgid);
    this.timer ??= setInterval(() => this.prune(), GROUP_PRUNE_MS).unref();
  }

  /** The group was sent SIGKILL (dispose): nothing of it runs any more. */
  killed(pgid: number): void {
    this.lingering.delete(pgid);
    forgetGroup(pgid);
  }

  /** release(): kill every group whose leader exited but whose members remain. */
  killAll(): void {
    for (const pgid of this.lingering) {
      try {
        process.kill(-pgid, constants.signals.SIGKILL);
      } catch {
        /* gone meanwhile */
      }
      forgetGroup(pgid);
    }
    this.lingering.clear();
    this.stopTimer();
  }

  private prune(): void {
    for (const pgid of this.lingering) {
      if (hasMembers(pgid)) continue;
      this.lingering.delete(pgid);
      forgetGroup(pgid);
    }
    if (this.lingering.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Whether a process of group `pgid` exists that we may signal. */
function hasMembers(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false; // ESRCH: empty; EPERM: only processes that are not ours to kill
  }
}

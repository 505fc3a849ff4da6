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
import { readdirSync, readFileSync } from "node:fs";
import { forgetGroup, forgetSession, watchGroup, watchSession } from "./watchdog.js";
import { GROUP_PRUNE_MS } from "../../constants.js";

export class CommandGroups {
  private readonly lingering = new Set<number>();
  /** Sessions of terminal commands whose leader exited while other programs of theirs remain. */
  private readonly lingeringSessions = new Set<number>();
  /** Sessions whose leader runs: their id is ours for sure. */
  private readonly runningSessions = new Set<number>();
  private timer: NodeJS.Timeout | undefined;

  /** A command started as the leader of group `pgid`. */
  started(pgid: number): void {
    watchGroup(pgid);
  }

  /** A command started as the leader of session `sid` (a terminal): its programs may make groups of their own. */
  sessionStarted(sid: number): void {
    this.runningSessions.add(sid);
    watchGroup(sid);
    watchSession(sid);
  }

  /** The session's leader was reaped: keep the session while programs of it remain. */
  sessionLeaderExited(sid: number): void {
    this.runningSessions.delete(sid);
    this.leaderExited(sid);
    if (sessionGroups(sid).length === 0) return forgetSession(sid);
    this.lingeringSessions.add(sid);
    this.timer ??= setInterval(() => this.prune(), GROUP_PRUNE_MS).unref();
  }

  /**
   * Kill every group of the session (dispose); the session's id may then be reused. A session
   * already found empty is not looked for again: its id may name someone else's by now.
   */
  killSession(sid: number): void {
    if (this.runningSessions.delete(sid) || this.lingeringSessions.has(sid)) killGroups(sessionGroups(sid));
    this.lingeringSessions.delete(sid);
    forgetSession(sid);
    this.killed(sid);
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
    for (const sid of this.lingeringSessions) this.killSession(sid);
    this.stopTimer();
  }

  private prune(): void {
    for (const pgid of this.lingering) {
      if (hasMembers(pgid)) continue;
      this.lingering.delete(pgid);
      forgetGroup(pgid);
    }
    for (const sid of this.lingeringSessions) {
      if (sessionGroups(sid).length > 0) continue;
      this.lingeringSessions.delete(sid);
      forgetSession(sid);
    }
    if (this.lingering.size === 0 && this.lingeringSessions.size === 0) this.stopTimer();
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

/** The process groups that have a member in session `sid` (Linux /proc; none found elsewhere). */
function sessionGroups(sid: number): number[] {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  const found = new Set<number>();
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid pgrp session …; comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[3]) === sid && !fields[0]!.startsWith("Z")) found.add(Number(fields[2]));
  }
  return [...found];
}

function killGroups(pgids: number[]): void {
  for (const pgid of pgids) {
    try {
      process.kill(-pgid, constants.signals.SIGKILL);
    } catch {
      /* gone meanwhile, or not ours */
    }
  }
}

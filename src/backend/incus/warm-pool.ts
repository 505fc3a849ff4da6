/**
 * Pre-started exec sessions ("warm" shells waiting for their command on stdin, see
 * wrapper.ts), so that a command does not wait for Incus to create an operation, accept
 * four websockets and attach a process to the instance — most of an exec's latency.
 *
 * The pool starts filling on the first command of an executor (an executor used once
 * never leaves an idle shell behind) and keeps `size` sessions ready or starting. A
 * session that dies while idle (instance restarted) is dropped; after repeated start
 * failures the pool stops trying until a command succeeds the normal way. release()
 * kills the idle sessions.
 */
import type { IncusCommand, IncusExecContext } from "./incus-command.js";
import { startWarmSession } from "./incus-command.js";

interface Starting {
  session: Promise<IncusCommand | undefined>;
  claimed: boolean;
}

const MAX_FAILURES = 3;

export class WarmPool {
  private readonly idle: IncusCommand[] = [];
  private readonly starting: Starting[] = [];
  private wanted = 0;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly ctx: IncusExecContext,
    private readonly size: number,
  ) {}

  /** A session ready (or about to be) for a command; undefined = start one the normal way. */
  async take(): Promise<IncusCommand | undefined> {
    if (this.closed || this.size === 0) return undefined;
    this.wanted = this.size;
    let session: IncusCommand | undefined;
    while (!session && this.idle.length > 0) {
      const s = this.idle.shift()!;
      if (!s.isDone) session = s;
    }
    if (session) {
      this.fill();
      return session;
    }
    const next = this.starting.find((s) => !s.claimed);
    this.fill();
    if (!next) return undefined;
    next.claimed = true;
    const s = await next.session;
    return s && !s.isDone ? s : undefined;
  }

  /** A command started the normal way: the instance works, try warming again. */
  succeeded(): void {
    this.failures = 0;
  }

  private fill(): void {
    while (!this.closed && this.failures < MAX_FAILURES && this.idle.length + this.starting.filter((s) => !s.claimed).length < this.wanted) {
      this.startOne();
    }
  }

  private startOne(): void {
    const slot: Starting = { claimed: false, session: undefined as unknown as Promise<IncusCommand | undefined> };
    const done = () => {
      const i = this.starting.indexOf(slot);
      if (i >= 0) this.starting.splice(i, 1);
    };
    slot.session = startWarmSession(this.ctx).then(
      async (s) => {
        done();
        this.failures = 0;
        if (this.closed) {
          await s.dispose(); // close() waits for this
          return undefined;
        }
        if (!slot.claimed) {
          this.idle.push(s);
          void s.exited.then(() => {
            const i = this.idle.indexOf(s);
            if (i >= 0) this.idle.splice(i, 1);
          });
        }
        return s;
      },
      () => {
        done();
        this.failures++;
        return undefined;
      },
    );
    this.starting.push(slot);
  }

  /** Kill idle sessions and those still starting. */
  async close(): Promise<void> {
    this.closed = true;
    const idle = this.idle.splice(0);
    const starting = this.starting.splice(0).map((s) => s.session);
    await Promise.allSettled([...idle.map((s) => s.dispose()), ...starting]);
  }
}

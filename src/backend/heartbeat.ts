/**
 * Notices a daemon that went silent under a running command. A command may legitimately
 * print nothing for hours, so silence alone proves nothing: after `intervalMs` without any
 * byte from the daemon, `probe` asks it something small (with its own deadline). A probe
 * that fails means the daemon is gone or hung: `onDead` gets the probe's error.
 */
export class Heartbeat {
  private active = true;
  private heard = true;
  private probing = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    intervalMs: number,
    private readonly probe: () => Promise<unknown>,
    private readonly onDead: (e: unknown) => void,
  ) {
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  /** Bytes came from the daemon. */
  touch(): void {
    this.heard = true;
  }

  stop(): void {
    this.active = false;
    clearInterval(this.timer);
  }

  private tick(): void {
    if (!this.active || this.probing) return;
    if (this.heard) {
      this.heard = false;
      return;
    }
    this.probing = true;
    this.probe().then(
      () => {
        this.probing = false;
      },
      (e) => {
        this.probing = false;
        if (!this.active) return;
        this.stop();
        this.onDead(e);
      },
    );
  }
}

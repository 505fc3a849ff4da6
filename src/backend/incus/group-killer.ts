/**
 * Signals whole process groups inside an instance by running `kill -SIG -PGID ...` there
 * (see wrapper.ts for why the command leads its own group). Requests made in the same
 * tick are sent as one helper exec, so releasing an executor with many commands costs
 * one round trip, not one per command.
 */
export class GroupKiller {
  private batch = new Map<number, { pgids: Set<number>; done: Promise<void> }>();

  constructor(private readonly run: (argv: string[]) => Promise<number>) {}

  kill(pgid: number, signo: number): Promise<void> {
    let entry = this.batch.get(signo);
    if (!entry) {
      const pgids = new Set<number>();
      const done = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
        this.batch.delete(signo);
        // The group; else the pid alone (the wrapper may not have reached setsid yet).
        // A group that is gone already is fine: exit 0 whatever kill says.
        const script = `for p in ${[...pgids].join(" ")}; do kill -${signo} -$p 2>/dev/null || kill -${signo} $p 2>/dev/null; done; exit 0`;
        const code = await this.run(["/bin/sh", "-c", script]);
        if (code !== 0) throw new Error(`group kill helper exited with ${code}`);
      });
      entry = { pgids, done };
      this.batch.set(signo, entry);
    }
    entry.pgids.add(pgid);
    return entry.done;
  }
}

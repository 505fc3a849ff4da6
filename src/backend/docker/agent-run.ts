/**
 * One command's run on an agent, from the agent's point of view: routes the agent's
 * stdout/stderr bytes to the command's pipes, recognises the header lines
 * and the two trailers (see agent-script.ts), and reports start and end.
 */
import { randomBytes } from "node:crypto";
import { ExecError } from "../../errors.js";
import { MarkerScanner } from "./marker.js";
import { OutputPipe } from "./output-pipe.js";

export interface RunStart {
  pid: number;
  /** true: PID leads its own process group (setsid), so signals go to -PID. */
  group: boolean;
}

export interface RunEnd {
  /** Exit status as sh's `wait` reports it (128 + n for a signal death). */
  status: number;
  /** Nothing of the command's process group is left running. */
  clean: boolean;
}

const MAX_HEADER = 256;
const MAX_EARLY = 4096;

export class AgentRun {
  readonly nonce = randomBytes(16).toString("hex");
  /** The command's name, for messages. */
  argv0 = "command";
  readonly stdout = new OutputPipe();
  readonly stderr = new OutputPipe();
  readonly started: Promise<RunStart>;
  readonly ended: Promise<RunEnd>;
  private resolveStart!: (s: RunStart) => void;
  private rejectStart!: (e: ExecError) => void;
  private resolveEnd!: (e: RunEnd) => void;
  private rejectEnd!: (e: Error) => void;

  private header: Buffer | undefined = Buffer.alloc(0); // undefined once parsed
  private early: Buffer[] = []; // stdout before the header, for error messages
  private earlySize = 0;
  private readonly outScan: MarkerScanner;
  private readonly errScan: MarkerScanner;
  private statusLine: Buffer | undefined; // set once the stdout marker was seen
  private outDone: { status: number; clean: boolean } | undefined;
  private errDone = false;
  private settled = false;
  private pidInfo: RunStart | undefined;
  private verdict: ExecError | undefined;
  private verdictSeen = false;
  /**
   * Set by the command once it runs: decides what a lost connection means (container gone,
   * daemon lost) before the pipes end with that error. Until then a loss ends them at once.
   */
  onLost: ((error: Error) => Promise<Error>) | undefined;
  /** Bytes came from the agent (for the heartbeat). */
  onActivity: (() => void) | undefined;

  constructor() {
    this.started = new Promise((res, rej) => {
      this.resolveStart = res;
      this.rejectStart = rej;
    });
    this.ended = new Promise((res, rej) => {
      this.resolveEnd = res;
      this.rejectEnd = rej;
    });
    this.started.catch(() => {});
    this.ended.catch(() => {});
    this.outScan = new MarkerScanner(Buffer.from(`MX${this.nonce}:`));
    this.errScan = new MarkerScanner(Buffer.from(`MX${this.nonce}\n`));
  }

  get isSettled(): boolean {
    return this.settled;
  }

  /** Bytes from the agent's stdout. */
  onStdout(piece: Buffer): Promise<void> | undefined {
    this.onActivity?.();
    if (this.statusLine !== undefined) return this.onStatus(piece);
    if (this.header !== undefined && this.earlySize < MAX_EARLY) {
      this.early.push(Buffer.from(piece));
      this.earlySize += piece.length;
    }
    const r = this.outScan.push(piece);
    const wait = this.stdout.write(r.body);
    if (r.rest !== undefined) {
      this.statusLine = Buffer.alloc(0);
      this.stdout.end();
      this.onStatus(r.rest);
    }
    // Until the header (on stderr) is parsed nobody reads stdout: waiting for that reader
    // would stop the socket, and with it the header behind the output. A command's first
    // output before its header is bounded by the pipe buffers of the relays.
    if (this.header !== undefined) return undefined;
    return wait;
  }

  private onStatus(piece: Buffer): undefined {
    if (this.outDone) return undefined;
    this.statusLine = Buffer.concat([this.statusLine!, piece]);
    const nl = this.statusLine.indexOf(0x0a);
    if (nl < 0) return undefined;
    const [status, clean] = this.statusLine.subarray(0, nl).toString("latin1").split(":");
    this.outDone = { status: Number(status), clean: clean === "1" };
    this.maybeEnd();
    return undefined;
  }

  /** Bytes from the agent's stderr. */
  onStderr(piece: Buffer): Promise<void> | undefined {
    this.onActivity?.();
    while (this.header !== undefined) {
      const all = Buffer.concat([this.header, piece]);
      const nl = all.indexOf(0x0a);
      if (nl < 0) {
        if (all.length > MAX_HEADER) this.fail(new ExecError("INTERNAL", `docker agent: unexpected output ${JSON.stringify(all.toString("latin1").slice(0, 200))}`));
        else this.header = all;
        return undefined;
      }
      this.header = Buffer.alloc(0);
      this.onHeader(all.subarray(0, nl).toString("latin1"));
      piece = all.subarray(nl + 1);
      if (piece.length === 0) return undefined;
    }
    if (this.errDone) return undefined;
    const r = this.errScan.push(piece);
    const wait = this.stderr.write(r.body);
    if (r.rest !== undefined) {
      this.errDone = true;
      this.stderr.end();
      this.maybeEnd();
    }
    return wait;
  }

  /** Two header lines, in either order: the agent's "mx:pid:PID:MODE" and the subshell's verdict. */
  private onHeader(line: string): void {
    const pid = /^mx:pid:(\d+):([gp])$/.exec(line);
    if (pid) this.pidInfo = { pid: Number(pid[1]), group: pid[2] === "g" };
    else if (line === "mx:go") this.verdict = undefined;
    else if (line === "mx:nocmd") this.verdict = new ExecError("NOT_FOUND", "command not found");
    else if (line === "mx:nodir") this.verdict = new ExecError("NOT_FOUND", "work_dir does not exist");
    else if (line === "mx:nofifo") this.verdict = new ExecError("INTERNAL", "docker agent: cannot relay output: the image needs cat and mkfifo, and a writable /dev/shm, /tmp or $HOME");
    else this.verdict = new ExecError("INTERNAL", `docker agent: unexpected header ${JSON.stringify(line.slice(0, 200))}`);
    if (!/^mx:pid:/.test(line)) this.verdictSeen = true;
    if (!this.pidInfo || !this.verdictSeen) return;
    this.header = undefined;
    this.early = [];
    if (this.verdict) this.rejectStart(this.verdict);
    else this.resolveStart(this.pidInfo);
  }

  private maybeEnd(): void {
    if (!this.outDone || !this.errDone || this.settled) return;
    this.settled = true;
    // A header that never came (cannot happen after both trailers, but be safe).
    this.rejectStart(new ExecError("INTERNAL", "docker agent: command ended without starting"));
    this.resolveEnd(this.outDone);
  }

  /** The agent's connection ended or broke before this run finished. */
  fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    const early = Buffer.concat(this.early).toString("utf8").trim();
    this.rejectStart(early ? new ExecError("INTERNAL", early) : error instanceof ExecError ? error : new ExecError("UNAVAILABLE", error.message));
    const endPipes = (e: Error) => {
      this.stdout.fail(e);
      this.stderr.fail(e);
    };
    if (this.onLost) void this.onLost(error).then(endPipes, () => endPipes(error));
    else endPipes(error);
    this.rejectEnd(error);
  }

  /** Text the agent printed before any header (e.g. the daemon's "OCI runtime exec failed ..."). */
  get earlyText(): string {
    return Buffer.concat(this.early).toString("utf8").trim();
  }
}

/**
 * A small Incus REST client over the unix socket or HTTPS (node:http/https, keep-alive),
 * plus websocket connections to operations (ws, without an Origin header).
 */
import * as http from "node:http";
import * as https from "node:https";
import * as tls from "node:tls";
import WebSocket from "ws";
import type { RingReads } from "./ring-reads.js";
import { apiError, transportError } from "./errors.js";
import type { Remote } from "./remote.js";
import { DEFAULT_REQUEST_TIMEOUT, noAnswer } from "../request-timeout.js";

/** The JSON envelope every Incus API answer has. */
export interface Envelope<M = any> {
  type: "sync" | "async" | "error";
  status_code: number;
  error_code: number;
  error: string;
  operation: string;
  metadata: M;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  /** JSON (object) or raw bytes. */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Longest silence of the connection (connect, TLS, sending, waiting, receiving); default: the client's timeoutMs. */
  silenceMs?: number;
}

export class IncusClient {
  private readonly agent: http.Agent;
  /** The last TLS session, offered on new websocket connections (resumption saves a full handshake). */
  private tlsSession: Buffer | undefined;
  private closed = false;

  constructor(
    readonly remote: Remote,
    readonly project: string,
    /** request_timeout: how long any call may go unanswered. */
    readonly timeoutMs = DEFAULT_REQUEST_TIMEOUT * 1000,
  ) {
    this.agent =
      remote.kind === "unix"
        ? new http.Agent({ keepAlive: true, keepAliveMsecs: 10_000 })
        : new https.Agent({ keepAlive: true, keepAliveMsecs: 10_000, maxCachedSessions: 16, ...remote.tls });
  }

  /** One request; resolves with the raw answer whatever its status. Transport errors reject as ExecError. */
  raw(method: string, path: string, opts: RequestOptions = {}): Promise<RawResponse> {
    // Pooled keep-alive connections may have died while idle (daemon restarted, connection
    // cut): a request that fails on one before any answer is tried again on the next, and
    // at last on a new connection.
    const attempt = (left: number): Promise<RawResponse> =>
      this.rawOnce(method, path, opts, left === 0).catch((e: unknown) => {
        if (!(e instanceof StaleSocket)) throw e;
        return attempt(left - 1);
      });
    return attempt(MAX_STALE);
  }

  private rawOnce(method: string, path: string, opts: RequestOptions, last: boolean): Promise<RawResponse> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) query.set(k, v);
    const fullPath = query.size ? `${path}?${query}` : path;
    let payload: Buffer | undefined;
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body instanceof Uint8Array) {
      payload = Buffer.from(opts.body.buffer, opts.body.byteOffset, opts.body.byteLength);
      headers["Content-Type"] ??= "application/octet-stream";
    } else if (opts.body !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.body));
      headers["Content-Type"] = "application/json";
    }
    if (payload) headers["Content-Length"] = String(payload.length);
    const remote = this.remote;
    const base: http.RequestOptions =
      remote.kind === "unix"
        ? { socketPath: remote.socketPath, host: "incus" }
        : { host: remote.host, port: remote.port };
    const request = remote.kind === "unix" ? http.request : https.request;
    const silenceMs = opts.silenceMs ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      // `timeout` is the socket's silence limit from before it connects to the last byte of
      // the answer: a daemon that accepts and never answers is a TIMEOUT naming the call.
      const req = request({ ...base, method, path: fullPath, headers, agent: this.agent, signal: opts.signal, timeout: silenceMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", (e) => reject(transportError(e, remote)));
        res.on("aborted", () => reject(transportError(new Error("the connection closed in the middle of the answer"), remote)));
      });
      req.on("timeout", () => req.destroy(noAnswer(`incus at ${remote.address}`, `${method} ${path}`, silenceMs)));
      req.on("error", (e: NodeJS.ErrnoException) => {
        if (!last && req.reusedSocket && (e.code === "ECONNRESET" || e.code === "EPIPE")) reject(new StaleSocket());
        else reject(e.name === "AbortError" ? e : transportError(e, remote));
      });
      req.end(payload);
    });
  }

  /** A JSON API call; error answers reject with an ExecError that says `what` failed. */
  async call<M = any>(method: string, path: string, what: string, opts: RequestOptions = {}): Promise<Envelope<M>> {
    const res = await this.raw(method, path, { ...opts, query: { project: this.project, ...opts.query } });
    let env: Envelope<M>;
    try {
      env = JSON.parse(res.body.toString("utf8")) as Envelope<M>;
    } catch {
      throw apiError(res.status, `unexpected answer (HTTP ${res.status}): ${res.body.toString("utf8").slice(0, 200)}`, this.remote, what);
    }
    if (env.type === "error" || res.status >= 400) throw apiError(env.error_code || res.status, env.error, this.remote, what);
    return env;
  }

  /**
   * Open a websocket to an operation; returns at once (listen for "open"/"error"). With
   * `ring`, a unix-socket connection is read into its reused buffers (TLS cannot be).
   */
  websocket(operationId: string, secret: string, ring?: RingReads): WebSocket {
    // The project as on every other call (the incus client sends it here too).
    const query = new URLSearchParams({ secret, project: this.project });
    const path = `/1.0/operations/${encodeURIComponent(operationId)}/websocket?${query}`;
    const common: WebSocket.ClientOptions = {
      perMessageDeflate: false,
      handshakeTimeout: this.timeoutMs,
      skipUTF8Validation: true,
      followRedirects: false,
    };
    const remote = this.remote;
    if (remote.kind === "unix" && ring) {
      const ws = new WebSocket(`ws+unix:${remote.socketPath}:${path}`, { ...common, createConnection: ring.connect as unknown as WebSocket.ClientOptions["createConnection"] });
      ws.once("open", () => ring.opened());
      return ws;
    }
    if (remote.kind === "unix") return new WebSocket(`ws+unix:${remote.socketPath}:${path}`, common);
    const host = remote.host.includes(":") ? `[${remote.host}]` : remote.host;
    return new WebSocket(`wss://${host}:${remote.port}${path}`, {
      ...common,
      ...(remote.tls as WebSocket.ClientOptions),
      createConnection: ((options: tls.ConnectionOptions) => this.tlsConnect(options)) as unknown as WebSocket.ClientOptions["createConnection"],
    });
  }

  private tlsConnect(options: tls.ConnectionOptions): tls.TLSSocket {
    const remote = this.remote;
    if (remote.kind !== "https") throw new Error("not https");
    const socket = tls.connect({ ...options, ...remote.tls, host: remote.host, port: remote.port, path: undefined, session: this.tlsSession });
    socket.on("session", (s: Buffer) => (this.tlsSession = s));
    return socket;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Drop pooled connections. */
  close(): void {
    this.closed = true;
    this.agent.destroy();
  }
}

/** Dead pooled connections tried before a request fails. */
const MAX_STALE = 8;

/** A request failed on a reused keep-alive connection before any answer. */
class StaleSocket extends Error {}

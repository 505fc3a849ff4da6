/**
 * RingReads with ws against a local websocket server on a unix socket that sends its 101
 * response and the first frames in one write, so frame bytes arrive with the HTTP response
 * (ws puts them back into the socket; they must reach ws, in order). The reader holds chunks
 * for a while before consuming them, so slots stay held and come back. Every byte is checked.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import WebSocket from "ws";
import { RingReads } from "../../src/backend/incus/ring-reads.js";
import { SLOT, SLOTS } from "../../src/constants.js";
import { WsOutput } from "../../src/backend/incus/ws-output.js";
import { tempDir } from "../helpers/cli.js";

const FRAME = 32 * 1024;
const data = randomBytes(FRAME * 200 + 777);

/** An unmasked server frame (RFC 6455 §5.2). */
function frame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const len = n < 126 ? Buffer.from([n]) : n < 65536 ? Buffer.from([126, n >> 8, n & 255]) : Buffer.from([127, 0, 0, 0, 0, n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255]);
  return Buffer.concat([Buffer.from([0x80 | opcode]), len, payload]);
}

let server: Server;
let path: string;

beforeAll(async () => {
  path = join(tempDir(), "ws.sock");
  server = createServer((sock) => {
    let request = "";
    sock.on("data", (d) => {
      request += d.toString("latin1");
      if (!request.includes("\r\n\r\n")) return;
      const key = /Sec-WebSocket-Key: (.*)\r\n/i.exec(request)![1]!;
      const accept = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
      const frames: Buffer[] = [];
      for (let at = 0; at < data.length; at += FRAME) frames.push(frame(2, data.subarray(at, at + FRAME)));
      frames.push(frame(1, Buffer.alloc(0))); // end of stream, as Incus sends it
      const response = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
      sock.write(Buffer.concat([Buffer.from(response, "latin1"), ...frames.slice(0, 3)])); // frames with the response
      for (const f of frames.slice(3)) sock.write(f);
      sock.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
});

afterAll(() => server?.close());

/** Read the server's stream, holding `hold` chunks before consuming them; the chunks, and how many lay in the ring's memory. */
async function readAll(hold: number): Promise<{ got: Buffer; inRing: number; rings: number }> {
  const ring = new RingReads();
  const ws = new WebSocket(`ws+unix:${path}:/`, { perMessageDeflate: false, createConnection: ring.connect as unknown as WebSocket.ClientOptions["createConnection"] });
  ws.once("open", () => ring.opened());
  ws.on("error", () => {});
  const out = new WsOutput(ws, ring);
  const got: Buffer[] = [];
  const ringMemory = new Set<ArrayBufferLike>();
  let inRing = 0;
  let held: Buffer[] = [];
  const settle = () => {
    for (const c of held) got.push(Buffer.from(c));
    out.consumed!(held.reduce((n, c) => n + c.length, 0));
    held = [];
  };
  out.on("data", (c: Buffer) => {
    // The ring is the one buffer of SLOTS slots; a fresh read has a buffer of one slot.
    if (c.buffer.byteLength === SLOT * SLOTS) {
      inRing++;
      ringMemory.add(c.buffer);
    }
    held.push(c);
    if (held.length === hold) settle();
  });
  await new Promise((resolve) => out.on("end", resolve));
  settle();
  return { got: Buffer.concat(got), inRing, rings: ringMemory.size };
}

it("gets every byte in order through the ring, including frames that came with the HTTP response", async () => {
  // Keep 48 chunks (1.5 MiB: more than the ring holds) before checking and consuming them.
  const { got, inRing, rings } = await readAll(48);
  expect(got.equals(data)).toBe(true);
  expect(rings).toBe(1);
  expect(inRing).toBeGreaterThan((SLOT * SLOTS) / FRAME); // more messages than the ring holds at once: it went round
});

it("a reader that holds everything to the end: reads go to fresh memory once every slot is held, nothing lost", async () => {
  const { got, inRing } = await readAll(Infinity);
  expect(got.equals(data)).toBe(true);
  expect(inRing).toBeGreaterThan(0);
  expect(inRing).toBeLessThanOrEqual((SLOT * SLOTS) / FRAME); // never read into a held slot
});

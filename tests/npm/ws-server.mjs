// A tiny WebSocket server (RFC 6455) for listen.test.mjs, written apart from
// the package's client so that each checks the other: node:http's upgrade,
// the Sec-WebSocket-Accept answer, the client's frames unmasked (and checked
// to be masked), and raw frames of any shape sent back.

import { createHash } from "node:crypto";
import http from "node:http";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** One frame from the server: unmasked unless `mask` (which a server must never do). */
export function frame(opcode, payload = Buffer.alloc(0), { fin = true, mask = false, rsv = 0 } = {}) {
  const data = Buffer.from(payload);
  const length = data.length;
  const extra = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const header = Buffer.alloc(2 + extra + (mask ? 4 : 0));
  header[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  header[1] = (mask ? 0x80 : 0) | (extra === 0 ? length : extra === 2 ? 126 : 127);
  if (extra === 2) header.writeUInt16BE(length, 2);
  if (extra === 8) header.writeBigUInt64BE(BigInt(length), 2);
  if (mask) {
    const key = Buffer.from([1, 2, 3, 4]);
    key.copy(header, 2 + extra);
    for (let i = 0; i < length; i++) data[i] ^= key[i & 3];
  }
  return Buffer.concat([header, data]);
}

/** A server-side connection: `frames` receives the client's frames ({ fin, opcode, masked, payload }). */
class ServerSide {
  constructor(socket, request) {
    this.socket = socket;
    this.request = request;
    this.frames = [];
    this.pending = Buffer.alloc(0);
    this.closed = new Promise((resolve) => socket.once("close", resolve));
    this.onFrame = () => {};
    socket.on("data", (data) => this.receive(data));
    socket.on("error", () => {});
  }

  receive(data) {
    this.pending = Buffer.concat([this.pending, data]);
    for (;;) {
      const buffer = this.pending;
      if (buffer.length < 2) return;
      let length = buffer[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      const masked = (buffer[1] & 0x80) !== 0;
      const keyLength = masked ? 4 : 0;
      if (buffer.length < offset + keyLength + length) return;
      const key = buffer.subarray(offset, offset + keyLength);
      const payload = Buffer.from(buffer.subarray(offset + keyLength, offset + keyLength + length));
      if (masked) for (let i = 0; i < length; i++) payload[i] ^= key[i & 3];
      this.pending = buffer.subarray(offset + keyLength + length);
      const parsed = { fin: (buffer[0] & 0x80) !== 0, opcode: buffer[0] & 0x0f, masked, payload };
      this.frames.push(parsed);
      this.onFrame(parsed);
      // The client answered (or started) the closing handshake: the server closes the TCP connection (RFC 6455, 7.1.1).
      if (parsed.opcode === 8) this.socket.end();
    }
  }

  /** The client's text messages so far. */
  texts() {
    return this.frames.filter((item) => item.opcode === 1).map((item) => item.payload.toString("utf8"));
  }

  write(bytes) {
    this.socket.write(bytes);
  }

  send(text) {
    this.write(frame(1, Buffer.from(text)));
  }

  close(code = 1000, reason = "") {
    const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
    payload.writeUInt16BE(code, 0);
    payload.write(reason, 2);
    this.write(frame(8, payload));
  }

  /** Drops the TCP connection without a close frame. */
  drop() {
    this.socket.destroy();
  }
}

/**
 * Starts a server on 127.0.0.1:0 whose `onUpgrade(request, { accept, refuse })` decides each upgrade:
 * `accept({ accept: header value })` answers 101 and resolves to a ServerSide, `refuse(status, body)` answers that.
 * Resolves to `{ url, connections, upgrades, close }`.
 */
export async function startWebSocketServer(onUpgrade) {
  const connections = [];
  const upgrades = [];
  const server = http.createServer((request, response) => response.writeHead(426).end());
  server.on("upgrade", (request, socket) => {
    upgrades.push(request);
    socket.on("error", () => {});
    const accept = ({ acceptValue, headers = {} } = {}) => {
      const key = request.headers["sec-websocket-key"];
      const value = acceptValue ?? createHash("sha1").update(key + GUID).digest("base64");
      const lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Accept: ${value}`];
      for (const [name, headerValue] of Object.entries(headers)) lines.push(`${name}: ${headerValue}`);
      socket.write(`${lines.join("\r\n")}\r\n\r\n`);
      const side = new ServerSide(socket, request);
      connections.push(side);
      return side;
    };
    const refuse = (status, body = "", contentType = "application/json") => {
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    onUpgrade(request, { accept, refuse });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    connections,
    upgrades,
    close: async () => {
      for (const side of connections) side.socket.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Resolves once `predicate()` holds, or rejects after `ms` with `what`. */
export async function until(predicate, what, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// A small WebSocket client (RFC 6455) over node:http and node:https, for the
// CLI's `listen` (Node 20 has no global WebSocket, and the package takes no
// dependencies): the opening handshake with its Sec-WebSocket-Accept check,
// masked client frames, text, binary, close, ping and pong, fragmented
// messages, and a size limit per message. No extensions, no subprotocols.

import { createHash, randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import http from "node:http";
import https from "node:https";

/** @import { Socket } from "node:net" */

/** The GUID RFC 6455 appends to the key (section 1.3). */
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const OPCODES = /** @type {const} */ ({ continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 });
/** The default limit of one message (after reassembly). */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** At most this much of a refused handshake's body is kept for its error. */
const REFUSAL_BODY_BYTES = 4096;

/** The server answered the opening handshake with something else than a WebSocket. */
export class HandshakeError extends Error {
  /**
   * @param {string} message
   * @param {number} [status] The HTTP status, when the server answered with one.
   * @param {string} [body] The start of its body (at most 4 KiB).
   */
  constructor(message, status, body) {
    super(message);
    this.name = "HandshakeError";
    /** @readonly */
    this.status = status;
    /** @readonly */
    this.body = body;
  }
}

/**
 * @typedef {object} ConnectOptions
 * @property {Record<string, string>} [headers] More request headers (Authorization, say).
 * @property {number} [maxMessageBytes] A larger message closes the connection with 1009. Default 16 MiB.
 * @property {number} [timeoutMs] The handshake's limit. Default 10 s.
 */

/**
 * Opens a WebSocket to `url` (ws:, wss:, or http:, https: for the same); resolves once the server accepted the
 * handshake, or rejects with a HandshakeError (the server's status and body when it answered otherwise) or the
 * network's error.
 * @param {string | URL} url
 * @param {ConnectOptions} [options]
 * @returns {Promise<WebSocketConnection>}
 */
export function connectWebSocket(url, { headers = {}, maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES, timeoutMs = 10_000 } = {}) {
  const target = new URL(url);
  if (target.protocol === "ws:") target.protocol = "http:";
  else if (target.protocol === "wss:") target.protocol = "https:";
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    return Promise.reject(new TypeError(`a WebSocket URL is ws://, wss://, http:// or https://, got ${target.protocol}`));
  }
  const key = randomBytes(16).toString("base64");
  const expectedAccept = createHash("sha1").update(key + GUID).digest("base64");
  return new Promise((resolve, reject) => {
    const request = (target.protocol === "https:" ? https : http).request(target, {
      headers: {
        ...headers,
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": key,
      },
    });
    const timer = setTimeout(() => {
      request.destroy();
      reject(new HandshakeError(`no WebSocket handshake from ${target.host} within ${timeoutMs} ms`));
    }, timeoutMs);
    request.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.on("response", (response) => {
      // Not an upgrade: the server refused; keep the start of what it said.
      /** @type {Buffer[]} */
      const parts = [];
      let length = 0;
      const refused = () => {
        clearTimeout(timer);
        request.destroy();
        const body = Buffer.concat(parts).toString("utf8").slice(0, REFUSAL_BODY_BYTES);
        const status = response.statusCode ?? 0;
        reject(new HandshakeError(`the server refused the WebSocket: ${status} ${response.statusMessage ?? ""}`.trim(), status, body));
      };
      response.on("data", (/** @type {Buffer} */ part) => {
        if (length < REFUSAL_BODY_BYTES) parts.push(part);
        length += part.length;
        if (length >= REFUSAL_BODY_BYTES) refused();
      });
      response.on("end", refused);
      response.on("error", refused);
    });
    request.on("upgrade", (response, socket, head) => {
      clearTimeout(timer);
      const problem = handshakeProblem(response, expectedAccept);
      if (problem !== undefined) {
        socket.destroy();
        return reject(new HandshakeError(`not a WebSocket handshake: ${problem}`, response.statusCode));
      }
      resolve(new WebSocketConnection(socket, head, maxMessageBytes));
    });
    request.end();
  });
}

/**
 * What is wrong with a 101 answer, if anything (RFC 6455, section 4.1).
 * @param {import("node:http").IncomingMessage} response
 * @param {string} expectedAccept
 */
function handshakeProblem(response, expectedAccept) {
  const { headers } = response;
  if (response.statusCode !== 101) return `status ${response.statusCode}`;
  if (String(headers.upgrade).toLowerCase() !== "websocket") return `Upgrade: ${headers.upgrade}`;
  if (!String(headers.connection).toLowerCase().split(/\s*,\s*/).includes("upgrade")) return `Connection: ${headers.connection}`;
  if (headers["sec-websocket-accept"] !== expectedAccept) return "Sec-WebSocket-Accept does not match the key";
  if (headers["sec-websocket-extensions"] !== undefined) return "an extension the client did not ask for";
  if (headers["sec-websocket-protocol"] !== undefined) return "a subprotocol the client did not ask for";
  return undefined;
}

/** A protocol error: the connection closes with `code`. */
class ProtocolError extends Error {
  /**
   * @param {number} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * An open WebSocket. Events: `message` (a string for a text message, a Buffer for a binary one), `ping` and `pong`
 * (their payloads; a ping is answered by itself), `close` (code and reason, once: 1005 when the close frame had no
 * code, 1006 when the connection ended without one), `error` (a protocol error or the socket's, before `close`).
 */
export class WebSocketConnection extends EventEmitter {
  #socket;
  #maxMessageBytes;
  /** Bytes received and not yet parsed. @type {Buffer} */
  #pending = Buffer.alloc(0);
  /** The fragments of a message in progress, their length and the message's opcode. @type {Buffer[]} */
  #fragments = [];
  #fragmentsLength = 0;
  /** @type {number | null} */
  #fragmentedOpcode = null;
  #closeSent = false;
  #closed = false;

  /**
   * @param {Socket} socket The upgraded connection.
   * @param {Buffer} head What arrived with the handshake.
   * @param {number} maxMessageBytes
   */
  constructor(socket, head, maxMessageBytes) {
    super();
    this.#socket = socket;
    this.#maxMessageBytes = maxMessageBytes;
    socket.setNoDelay(true);
    // What came with the handshake is parsed once whoever awaited the connection listens (after this turn).
    this.#pending = Buffer.from(head);
    setImmediate(() => this.#receive(Buffer.alloc(0)));
    socket.on("data", (/** @type {Buffer} */ data) => this.#receive(data));
    socket.on("error", (error) => this.#error(error));
    socket.on("close", () => this.#finish(1006, ""));
  }

  /**
   * Reports `error` to whoever listens for errors (an EventEmitter throws an unheard one).
   * @param {Error} error
   */
  #error(error) {
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }

  /** Whether the connection is still open for sending. */
  get open() {
    return !this.#closeSent && !this.#closed;
  }

  /**
   * Sends a text message.
   * @param {string} text
   */
  send(text) {
    this.#write(OPCODES.text, Buffer.from(text, "utf8"));
  }

  /**
   * Sends a ping (a control frame: at most 125 bytes).
   * @param {string | Buffer} [payload]
   */
  ping(payload = Buffer.alloc(0)) {
    this.#write(OPCODES.ping, Buffer.from(payload));
  }

  /**
   * Starts the closing handshake (RFC 6455, section 7); the socket ends once the server answered, or after 2 s.
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code = 1000, reason = "") {
    if (!this.open) return;
    const reasonBytes = Buffer.from(reason, "utf8").subarray(0, 123);
    const payload = Buffer.alloc(2 + reasonBytes.length);
    payload.writeUInt16BE(code, 0);
    reasonBytes.copy(payload, 2);
    this.#write(OPCODES.close, payload);
    this.#closeSent = true;
    setTimeout(() => this.#socket.destroy(), 2000).unref();
  }

  /** Drops the connection at once, without a closing handshake (a dead peer). */
  terminate() {
    this.#socket.destroy();
  }

  /**
   * Writes one masked frame (every client frame is masked: section 5.3).
   * @param {number} opcode
   * @param {Buffer} payload
   */
  #write(opcode, payload) {
    if (!this.open) throw new Error("the WebSocket is closed");
    const length = payload.length;
    const extra = length < 126 ? 0 : length < 65536 ? 2 : 8;
    const header = Buffer.alloc(2 + extra + 4);
    header[0] = 0x80 | opcode; // FIN: never fragmented
    if (extra === 0) header[1] = 0x80 | length;
    else if (extra === 2) {
      header[1] = 0x80 | 126;
      header.writeUInt16BE(length, 2);
    } else {
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(length), 2);
    }
    const mask = randomBytes(4);
    mask.copy(header, 2 + extra);
    const masked = Buffer.alloc(length);
    for (let i = 0; i < length; i++) masked[i] = payload[i] ^ mask[i & 3];
    this.#socket.write(Buffer.concat([header, masked]));
  }

  /** @param {Buffer} data */
  #receive(data) {
    if (data.length > 0) this.#pending = this.#pending.length === 0 ? data : Buffer.concat([this.#pending, data]);
    try {
      while (!this.#closed && this.#parseFrame());
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#error(error);
      this.#fail(error.code, error.message);
    }
  }

  /** Parses one frame from what is pending, if it is whole; whether it did. */
  #parseFrame() {
    const data = this.#pending;
    if (data.length < 2) return false;
    const fin = (data[0] & 0x80) !== 0;
    const opcode = data[0] & 0x0f;
    if ((data[0] & 0x70) !== 0) throw new ProtocolError(1002, "reserved bits set without an extension");
    if ((data[1] & 0x80) !== 0) throw new ProtocolError(1002, "a masked frame from the server");
    let length = data[1] & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (data.length < 4) return false;
      length = data.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (data.length < 10) return false;
      const long = data.readBigUInt64BE(2);
      if (long > BigInt(this.#maxMessageBytes)) throw new ProtocolError(1009, `a frame of ${long} bytes, more than the limit`);
      length = Number(long);
      offset = 10;
    }
    const control = opcode >= 8;
    if (control && (!fin || length > 125)) throw new ProtocolError(1002, "a fragmented or oversized control frame");
    if (!control && this.#fragmentsLength + length > this.#maxMessageBytes) {
      throw new ProtocolError(1009, `a message of more than ${this.#maxMessageBytes} bytes`);
    }
    if (data.length < offset + length) return false;
    const payload = data.subarray(offset, offset + length);
    this.#pending = data.subarray(offset + length);
    this.#frame(fin, opcode, payload);
    return true;
  }

  /**
   * @param {boolean} fin
   * @param {number} opcode
   * @param {Buffer} payload
   */
  #frame(fin, opcode, payload) {
    switch (opcode) {
      case OPCODES.text:
      case OPCODES.binary:
        if (this.#fragmentedOpcode !== null) throw new ProtocolError(1002, "a new message inside a fragmented one");
        if (fin) return this.#message(opcode, payload);
        this.#fragmentedOpcode = opcode;
        this.#fragments = [Buffer.from(payload)];
        this.#fragmentsLength = payload.length;
        return;
      case OPCODES.continuation: {
        if (this.#fragmentedOpcode === null) throw new ProtocolError(1002, "a continuation frame outside a message");
        this.#fragments.push(Buffer.from(payload));
        this.#fragmentsLength += payload.length;
        if (!fin) return;
        const whole = Buffer.concat(this.#fragments, this.#fragmentsLength);
        const messageOpcode = this.#fragmentedOpcode;
        this.#fragmentedOpcode = null;
        this.#fragments = [];
        this.#fragmentsLength = 0;
        return this.#message(messageOpcode, whole);
      }
      case OPCODES.ping:
        if (this.open) this.#write(OPCODES.pong, payload);
        this.emit("ping", Buffer.from(payload));
        return;
      case OPCODES.pong:
        this.emit("pong", Buffer.from(payload));
        return;
      case OPCODES.close:
        return this.#peerClosed(payload);
      default:
        throw new ProtocolError(1002, `unknown opcode ${opcode}`);
    }
  }

  /**
   * @param {number} opcode
   * @param {Buffer} payload
   */
  #message(opcode, payload) {
    if (opcode === OPCODES.binary) return void this.emit("message", Buffer.from(payload));
    let text;
    try {
      text = strictUtf8.decode(payload);
    } catch {
      throw new ProtocolError(1007, "a text message that is not UTF-8");
    }
    this.emit("message", text);
  }

  /**
   * The server closed: answer with its code (unless we started), then end.
   * @param {Buffer} payload
   */
  #peerClosed(payload) {
    if (payload.length === 1) throw new ProtocolError(1002, "a close frame of one byte");
    const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
    // Codes a peer may send (section 7.4): not the reserved ones, nor those that only report.
    const sendable = (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) || (code >= 3000 && code <= 4999);
    if (payload.length >= 2 && !sendable) throw new ProtocolError(1002, `close code ${code}`);
    let reason = "";
    if (payload.length > 2) {
      try {
        reason = strictUtf8.decode(payload.subarray(2));
      } catch {
        throw new ProtocolError(1007, "a close reason that is not UTF-8");
      }
    }
    if (this.open) {
      const answer = Buffer.alloc(code === 1005 ? 0 : 2);
      if (code !== 1005) answer.writeUInt16BE(code, 0);
      this.#write(OPCODES.close, answer);
      this.#closeSent = true;
    }
    this.#socket.end();
    this.#finish(code, reason);
  }

  /**
   * Closes with `code` after a protocol error.
   * @param {number} code
   * @param {string} reason
   */
  #fail(code, reason) {
    if (this.open) this.close(code, reason);
    this.#socket.end();
    this.#finish(code, reason);
  }

  /**
   * Emits `close` once.
   * @param {number} code
   * @param {string} reason
   */
  #finish(code, reason) {
    if (this.#closed) return;
    this.#closed = true;
    this.emit("close", code, reason);
  }
}

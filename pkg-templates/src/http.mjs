// What the adapters (and verifyRequest) share about HTTP: reading a body
// with a size limit, from a Node stream or a web ReadableStream, and the
// JSON error answer. No imports: it loads in every runtime.

/**
 * A body read with a limit: the bytes, or (over the limit) how many arrived before reading stopped.
 * @typedef {{ body: Uint8Array, length?: undefined } | { body?: undefined, length: number }} BodyRead
 */

/** The adapters' default body limit. ThreeTone's events are a few KiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * A Content-Length header's value as a number, or -1 when absent or not a plain length.
 * @param {unknown} value
 */
export function declaredLength(value) {
  return typeof value === "string" && /^\d+$/.test(value) ? Number(value) : -1;
}

/** The client went away before its whole body arrived: nothing to answer. */
export class BodyAborted extends Error {
  /** @param {unknown} [cause] */
  constructor(cause) {
    super("the client closed the connection before the whole body arrived", { cause });
    this.name = "BodyAborted";
  }
}

/**
 * Reads a Node request's body: resolves to `{ body }` (a Buffer), or to
 * `{ length }` (the bytes received) as soon as it is over `maxBodyBytes`,
 * when reading stops. Rejects with BodyAborted if the request ends early.
 * @param {import("node:stream").Readable} req
 * @param {number} maxBodyBytes
 * @returns {Promise<BodyRead>}
 */
export function readNodeBody(req, maxBodyBytes) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const chunks = [];
    let length = 0;
    const done = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    /** @param {Buffer} chunk */
    const onData = (chunk) => {
      length += chunk.length;
      if (length <= maxBodyBytes) return void chunks.push(chunk);
      done();
      req.pause();
      resolve({ length });
    };
    const onEnd = () => {
      done();
      resolve({ body: Buffer.concat(chunks, length) });
    };
    /** @param {Error} error */
    const onError = (error) => {
      done();
      reject(new BodyAborted(error));
    };
    const onClose = () => {
      done();
      reject(new BodyAborted());
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

/**
 * Reads a web ReadableStream of bytes: `{ body }` (a Uint8Array), or
 * `{ length }` (the bytes received) as soon as it is over `maxBodyBytes`,
 * when reading stops (the stream is released, not cancelled: cancelling a
 * Node request's stream would close the connection before the answer).
 * @param {ReadableStream<Uint8Array>} stream
 * @param {number} maxBodyBytes
 * @returns {Promise<BodyRead>}
 */
export async function readWebBody(stream, maxBodyBytes) {
  const reader = stream.getReader();
  /** @type {Uint8Array[]} */
  const chunks = [];
  let length = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      length += value.byteLength;
      if (length > maxBodyBytes) return { length };
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  if (chunks.length === 1) return { body: chunks[0] };
  const body = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { body };
}

/**
 * An error answer's JSON body, the core's error record (`ErrorRecord`):
 * `{ error, message }`, and for an invalid payload `path`, `expected` and `found`.
 * @typedef {object} ErrorBody
 * @property {string} error The stable code.
 * @property {string} message
 * @property {string} [path]
 * @property {string} [expected]
 * @property {string} [found]
 */

/**
 * The JSON answer for an error: a WebhookVerificationError, or an adapter's own (`code` and `message`).
 * @param {{ code: string, message: string, path?: string, expected?: string, found?: string }} error
 * @returns {ErrorBody}
 */
export function errorBody({ code, message, path, expected, found }) {
  /** @type {ErrorBody} */
  const body = { error: code, message };
  if (path !== undefined) Object.assign(body, { path, expected, found });
  return body;
}

/**
 * Answers a Node response with `status` and `body` as JSON.
 * @param {import("node:http").ServerResponse} res
 * @param {number} status
 * @param {unknown} body
 * @param {Record<string, string>} [headers]
 */
export function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

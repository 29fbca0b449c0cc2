// What the adapters (and verifyRequest) share about HTTP: reading a body
// with a size limit, from a Node stream or a web ReadableStream, and the
// JSON error answer. No imports: it loads in every runtime.

/** The adapters' default body limit. ThreeTone's events are a few KiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** A Content-Length header's value as a number, or -1 when absent or not a plain length. */
export function declaredLength(value) {
  return typeof value === "string" && /^\d+$/.test(value) ? Number(value) : -1;
}

/** The client went away before its whole body arrived: nothing to answer. */
export class BodyAborted extends Error {
  constructor(cause) {
    super("the client closed the connection before the whole body arrived", { cause });
    this.name = "BodyAborted";
  }
}

/**
 * Reads a Node request's body: resolves to `{ body }` (a Buffer), or to
 * `{ length }` (the bytes received) as soon as it is over `maxBodyBytes`,
 * when reading stops. Rejects with BodyAborted if the request ends early.
 */
export function readNodeBody(req, maxBodyBytes) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let length = 0;
    const done = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
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
 */
export async function readWebBody(stream, maxBodyBytes) {
  const reader = stream.getReader();
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

/** The JSON answer for an error: its stable code and its message. */
export function errorBody(error) {
  return { error: error.code, message: error.message };
}

/** Answers a Node response with `status` and `body` as JSON. */
export function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

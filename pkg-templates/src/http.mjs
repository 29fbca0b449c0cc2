// What HTTP handlers share: reading a body with a size limit. No imports:
// it loads in every runtime.

/** The default body limit of what reads requests. ThreeTone's events are a few KiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** A Content-Length header's value as a number, or -1 when absent or not a plain length. */
export function declaredLength(value) {
  return typeof value === "string" && /^\d+$/.test(value) ? Number(value) : -1;
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

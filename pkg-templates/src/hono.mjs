// Hono adapter: `app.post(path, threetoneWebhook({ secret }), (c) => ...)`.
// The verified event is `c.get("threetoneEvent")`.
//
// Hono caches request bodies, so the raw bytes stay available even after a
// JSON body parser ran (`c.req.json()` keeps the text). A body consumed
// through `c.req.raw` cannot be verified: that is answered 500
// `raw_body_unavailable`, never verified re-serialized. Bodies over
// `maxBodyBytes` (default 1 MiB) are answered 413: unread when
// Content-Length says so, cut at the limit when read from the stream.

import { SIGNATURE_HEADER, Webhook, WebhookVerificationError, payloadTooLargeError } from "threetone-webhooks";
import { DEFAULT_MAX_BODY_BYTES, declaredLength, errorBody, readWebBody } from "./http.mjs";

/** @import { Options, Secret, ThreeToneEvent } from "threetone-webhooks" */

/**
 * Larger bodies than `maxBodyBytes` (default 1 MiB) get 413 (a declared Content-Length unread, a streamed body cut at the limit).
 * @typedef {Options & { secret: Secret }} HonoWebhookOptions
 */

/**
 * Minimal shape of Hono's Context used by the middleware.
 * @typedef {object} HonoLikeContext
 * @property {{ raw: Request, arrayBuffer(): Promise<ArrayBuffer>, header(name: string): string | undefined, bodyCache?: Record<string, unknown> }} req
 * @property {(key: "threetoneEvent", value: ThreeToneEvent) => void} set
 * @property {(body: unknown, status?: number) => Response} json
 */

/**
 * The raw body: `{ body }`, or `{ length }` when over the limit.
 * @param {HonoLikeContext} c
 * @param {number} maxBodyBytes
 * @returns {Promise<import("./http.mjs").BodyRead>}
 */
async function rawBodyOf(c, maxBodyBytes) {
  const declared = declaredLength(c.req.header("content-length"));
  if (declared > maxBodyBytes) return { length: declared };
  // Already read by another middleware: Hono has it in memory (and the core checks its size).
  if (Object.keys(c.req.bodyCache ?? {}).length > 0) return { body: new Uint8Array(await c.req.arrayBuffer()) };
  if (c.req.raw.body === null) return { body: new Uint8Array(0) };
  const read = await readWebBody(c.req.raw.body, maxBodyBytes);
  // Kept where Hono's own methods look, so that later handlers can still read the body.
  const { body } = read;
  if (body !== undefined && c.req.bodyCache) {
    const whole = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
    c.req.bodyCache.arrayBuffer = Promise.resolve(whole ? body.buffer : body.slice().buffer);
  }
  return read;
}

/**
 * Hono middleware; the verified event is `c.get("threetoneEvent")`.
 * @param {HonoWebhookOptions} options
 * @returns {(c: HonoLikeContext, next: () => Promise<void>) => Promise<Response | void>}
 */
export function threetoneWebhook({ secret, maxBodyBytes = DEFAULT_MAX_BODY_BYTES, ...options }) {
  const webhook = new Webhook(secret, { ...options, maxBodyBytes });
  return async function threetoneWebhookMiddleware(c, next) {
    // Hono caches what its own methods read (json() keeps the text), but a
    // handler that consumed c.req.raw directly leaves nothing to verify.
    if (c.req.raw.bodyUsed && Object.keys(c.req.bodyCache ?? {}).length === 0) {
      return c.json(
        errorBody({
          code: "raw_body_unavailable",
          message:
            "The request body was consumed through c.req.raw before the ThreeTone webhook middleware. " +
            "Read bodies with c.req.json() / c.req.text() (Hono keeps the raw text), or mount the middleware first.",
        }),
        500,
      );
    }
    const read = await rawBodyOf(c, maxBodyBytes);
    if (read.body === undefined) return c.json(errorBody(payloadTooLargeError(read.length, maxBodyBytes)), 413);
    try {
      c.set("threetoneEvent", webhook.constructEvent(read.body, c.req.header(SIGNATURE_HEADER)));
    } catch (error) {
      if (error instanceof WebhookVerificationError) return c.json(errorBody(error), error.status);
      throw error;
    }
    await next();
  };
}

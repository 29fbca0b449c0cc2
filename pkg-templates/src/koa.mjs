// Koa adapter: `app.use(threetoneWebhook({ path, secret, onEvent }))`, or
// `router.post(path, threetoneWebhook({ secret }), ...)` with @koa/router.
//
// The signature covers the raw body, so the middleware reads the bytes from
// the request itself, at most `maxBodyBytes` (default 1 MiB), when nothing
// read them before; mounted after koa-bodyparser, it takes the raw text that
// parser keeps (`ctx.request.rawBody`). A body parsed without its raw text
// cannot be verified: that is answered 500 `raw_body_unavailable`, never
// verified re-serialized. Once verified, the event is `ctx.state.threetoneEvent`
// and `ctx.request.body`, so a body parser mounted after it leaves it alone.

import { SIGNATURE_HEADER, Webhook, WebhookVerificationError, payloadTooLargeError } from "threetone-webhooks";
import { BodyAborted, DEFAULT_MAX_BODY_BYTES, declaredLength, errorBody, readNodeBody } from "./http.mjs";

/** @import { IncomingMessage, ServerResponse } from "node:http" */
/** @import { Options, Secret, ThreeToneEvent } from "threetone-webhooks" */

/**
 * The shape of a Koa context the middleware uses (no dependency on Koa's types).
 * @typedef {object} KoaLikeContext
 * @property {IncomingMessage} req
 * @property {ServerResponse} res
 * @property {{ headers: Record<string, string | string[] | undefined>, body?: unknown, rawBody?: unknown }} request
 * @property {string} method
 * @property {string} path
 * @property {number} status
 * @property {unknown} body
 * @property {any} state
 * @property {(name: string, value: string) => void} set
 * @property {boolean} [respond]
 */

/**
 * @template {KoaLikeContext} [Ctx=KoaLikeContext]
 * @typedef {Options & {
 *   secret: Secret,
 *   path?: string,
 *   onEvent?: (event: ThreeToneEvent, ctx: Ctx) => void | Promise<void>,
 * }} KoaWebhookOptions With `path`, only `POST path` is handled (anything else goes on to `next`). `onEvent` is
 *   called with the verified event and answers 200 `{ received: true }` afterwards unless it answered itself; without it,
 *   `next()` is called. Larger bodies than `maxBodyBytes` (default 1 MiB) get 413. What `onEvent` throws is Koa's.
 */

/**
 * The raw body: `{ body }`, `{ length }` when over the limit, or `{}` when a body parser consumed it.
 * @param {KoaLikeContext} ctx
 * @param {number} maxBodyBytes
 * @returns {Promise<{ body?: string | Uint8Array, length?: number }>}
 */
async function rawBodyOf(ctx, maxBodyBytes) {
  const { rawBody, body } = ctx.request;
  if (typeof rawBody === "string" || rawBody instanceof Uint8Array) return { body: rawBody }; // koa-bodyparser's
  if (body !== undefined || ctx.req.readableEnded) return {}; // parsed, its raw text gone
  const declared = declaredLength(ctx.request.headers["content-length"]);
  if (declared > maxBodyBytes) return { length: declared };
  return readNodeBody(ctx.req, maxBodyBytes);
}

/**
 * Koa middleware that verifies, parses and validates, then calls `onEvent` (or `next`); an error is answered with its
 * status and `{ error, message, ... }`.
 * @template {KoaLikeContext} Ctx
 * @param {KoaWebhookOptions<Ctx>} options
 * @returns {(ctx: Ctx, next: () => Promise<unknown>) => Promise<void>}
 */
export function threetoneWebhook({ secret, path, onEvent, maxBodyBytes = DEFAULT_MAX_BODY_BYTES, ...options }) {
  const webhook = new Webhook(secret, { ...options, maxBodyBytes });
  return async function threetoneWebhookMiddleware(ctx, next) {
    if (path !== undefined && (ctx.path !== path || ctx.method !== "POST")) return void (await next());
    let read;
    try {
      read = await rawBodyOf(ctx, maxBodyBytes);
    } catch (error) {
      if (!(error instanceof BodyAborted)) throw error;
      // Nobody is left to answer.
      ctx.respond = false;
      ctx.res.destroy();
      return;
    }
    if (read.length !== undefined) {
      // Whatever is left of the body stays unread: the connection closes.
      ctx.set("connection", "close");
      ctx.status = 413;
      ctx.body = errorBody(payloadTooLargeError(read.length, maxBodyBytes));
      return;
    }
    if (read.body === undefined) {
      ctx.status = 500;
      ctx.body = errorBody({
        code: "raw_body_unavailable",
        message:
          "A body parser consumed the request before the ThreeTone webhook middleware and kept no raw body. Mount " +
          "the middleware before the body parser, or use koa-bodyparser (which keeps ctx.request.rawBody).",
      });
      return;
    }
    const signature = ctx.request.headers[SIGNATURE_HEADER.toLowerCase()];
    let event;
    try {
      // Sent twice, the header is no signature.
      event = webhook.constructEvent(read.body, typeof signature === "string" ? signature : undefined);
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      ctx.status = error.status;
      ctx.body = errorBody(error);
      return;
    }
    ctx.state.threetoneEvent = event;
    if (ctx.request.body === undefined) ctx.request.body = event;
    if (onEvent === undefined) return void (await next());
    await onEvent(event, ctx);
    // Koa's status stays 404 until something answers.
    if ((ctx.body === undefined || ctx.body === null) && ctx.status === 404) {
      ctx.status = 200;
      ctx.body = { received: true };
    }
  };
}

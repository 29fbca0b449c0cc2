// Express adapter: `app.post(path, threetoneWebhook({ secret, onEvent }))`.
//
// The signature covers the raw body, so the middleware needs the bytes as
// sent. It finds them wherever they are: read from the request itself when no
// body parser ran (mount it before express.json()), a Buffer left by
// express.raw(), or `req.rawBody` saved by express.json({ verify: rawBodySaver }).
// A body that was parsed and thrown away cannot be verified: that is answered
// 500 `raw_body_unavailable` with how to fix it, never verified re-serialized.
// Bodies over `maxBodyBytes` (default 1 MiB) are answered 413: unread when
// Content-Length says so, cut at the limit when read from the request, and
// refused by the core when a body parser already read them.

import { SIGNATURE_HEADER, Webhook, WebhookVerificationError, payloadTooLargeError } from "threetone-webhooks";
import { BodyAborted, DEFAULT_MAX_BODY_BYTES, declaredLength, errorBody, readNodeBody } from "./http.mjs";

/** @import { Options, Secret, ThreeToneEvent } from "threetone-webhooks" */

/**
 * The shape of an Express request the middleware uses (no dependency on Express's types).
 * @typedef {object} ExpressLikeRequest
 * @property {(name: string) => string | undefined} get
 * @property {unknown} [body]
 * @property {unknown} [rawBody]
 * @property {ThreeToneEvent} [threetoneEvent]
 */
/**
 * The shape of an Express response the middleware uses.
 * @typedef {object} ExpressLikeResponse
 * @property {(code: number) => ExpressLikeResponse} status
 * @property {(body: unknown) => unknown} json
 * @property {boolean} headersSent
 * @property {(name: string, value: string) => unknown} [setHeader]
 * @property {() => unknown} [destroy]
 */

/**
 * @template {ExpressLikeRequest} [Req=ExpressLikeRequest]
 * @template {ExpressLikeResponse} [Res=ExpressLikeResponse]
 * @typedef {Options & {
 *   secret: Secret,
 *   onEvent?: (event: ThreeToneEvent, req: Req, res: Res) => void | Promise<void>,
 * }} ExpressWebhookOptions `onEvent` is called with the verified event and answers 200 afterwards unless it answered
 *   itself; without it, `next()` is called. Larger bodies than `maxBodyBytes` (default 1 MiB) get 413.
 */

/**
 * Answers with Express's own methods (what ExpressLikeResponse promises).
 * @param {ExpressLikeResponse} res
 * @param {number} status
 * @param {unknown} body
 */
function answer(res, status, body) {
  res.status(status).json(body);
}

/**
 * For `express.json({ verify: rawBodySaver })`: keeps the raw body on `req.rawBody`.
 * @param {unknown} req
 * @param {unknown} _res
 * @param {Uint8Array} buffer
 * @returns {void}
 */
export function rawBodySaver(req, _res, buffer) {
  /** @type {{ rawBody?: unknown }} */ (req).rawBody = buffer;
}

/**
 * The raw body: `{ body }`, `{ length }` when over the limit, or `{}` when a body parser consumed it.
 * @param {ExpressLikeRequest} request An Express request: a Node request too.
 * @param {number} maxBodyBytes
 * @returns {Promise<{ body?: string | Uint8Array, length?: number }>}
 */
async function rawBodyOf(request, maxBodyBytes) {
  const req = /** @type {ExpressLikeRequest & import("node:http").IncomingMessage & { _body?: unknown }} */ (request);
  if (Buffer.isBuffer(req.rawBody) || typeof req.rawBody === "string") return { body: req.rawBody };
  if (Buffer.isBuffer(req.body)) return { body: req.body };
  if (req._body || req.readableEnded) return {}; // a body parser consumed it
  const declared = declaredLength(req.headers["content-length"]);
  if (declared > maxBodyBytes) return { length: declared };
  return readNodeBody(req, maxBodyBytes);
}

/**
 * Express middleware that verifies, parses and validates, then calls `onEvent` (or `next`).
 * @template {ExpressLikeRequest} Req
 * @template {ExpressLikeResponse} Res
 * @param {ExpressWebhookOptions<Req, Res>} options
 * @returns {(req: Req, res: Res, next: (error?: unknown) => void) => Promise<void>}
 */
export function threetoneWebhook({ secret, onEvent, maxBodyBytes = DEFAULT_MAX_BODY_BYTES, ...options }) {
  const webhook = new Webhook(secret, { ...options, maxBodyBytes });
  return async function threetoneWebhookMiddleware(req, res, next) {
    try {
      const { body, length } = await rawBodyOf(req, maxBodyBytes);
      if (length !== undefined) {
        // Whatever is left of the body stays unread: the connection closes.
        res.setHeader?.("connection", "close");
        answer(res, 413, errorBody(payloadTooLargeError(length, maxBodyBytes)));
        return;
      }
      if (body === undefined) {
        answer(
          res,
          500,
          errorBody({
            code: "raw_body_unavailable",
            message:
              "A JSON body parser consumed the request before the ThreeTone webhook middleware. Mount the webhook " +
              "route before express.json(), or use express.json({ verify: rawBodySaver }) from 'threetone-webhooks/express'.",
          }),
        );
        return;
      }
      const event = webhook.constructEvent(body, req.get(SIGNATURE_HEADER));
      req.threetoneEvent = event;
      if (onEvent === undefined) return next();
      await onEvent(event, req, res);
      if (!res.headersSent) answer(res, 200, { received: true });
    } catch (error) {
      if (error instanceof WebhookVerificationError) answer(res, error.status, errorBody(error));
      // A client that went away has nobody left to answer.
      else if (error instanceof BodyAborted) res.destroy?.();
      else next(error);
    }
  };
}

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

/** Answers with Express's own methods (what ExpressLikeResponse promises). */
function answer(res, status, body) {
  res.status(status).json(body);
}

/** For `express.json({ verify: rawBodySaver })`: keeps the raw body on `req.rawBody`. */
export function rawBodySaver(req, _res, buffer) {
  req.rawBody = buffer;
}

/** The raw body: `{ body }`, `{ length }` when over the limit, or `{}` when a body parser consumed it. */
async function rawBodyOf(req, maxBodyBytes) {
  if (Buffer.isBuffer(req.rawBody) || typeof req.rawBody === "string") return { body: req.rawBody };
  if (Buffer.isBuffer(req.body)) return { body: req.body };
  if (req._body || req.readableEnded) return {}; // a body parser consumed it
  const declared = declaredLength(req.headers["content-length"]);
  if (declared > maxBodyBytes) return { length: declared };
  return readNodeBody(req, maxBodyBytes);
}

/** Express middleware that verifies, parses and validates, then calls `onEvent` (or `next`). */
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
        answer(res, 500, {
          error: "raw_body_unavailable",
          message:
            "A JSON body parser consumed the request before the ThreeTone webhook middleware. Mount the webhook " +
            "route before express.json(), or use express.json({ verify: rawBodySaver }) from 'threetone-webhooks/express'.",
        });
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

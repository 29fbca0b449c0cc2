// Express adapter: `app.post(path, threetoneWebhook({ secret, onEvent }))`.
//
// The signature covers the raw body, so the middleware needs the bytes as
// sent. It finds them wherever they are: read from the request itself when no
// body parser ran (mount it before express.json()), a Buffer left by
// express.raw(), or `req.rawBody` saved by express.json({ verify: rawBodySaver }).
// A body that was parsed and thrown away cannot be verified: that is answered
// 500 `raw_body_unavailable` with how to fix it, never verified re-serialized.

import { SIGNATURE_HEADER, Webhook, WebhookVerificationError } from "threetone-webhooks";

/** For `express.json({ verify: rawBodySaver })`: keeps the raw body on `req.rawBody`. */
export function rawBodySaver(req, _res, buffer) {
  req.rawBody = buffer;
}

function readStream(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

async function rawBodyOf(req) {
  if (Buffer.isBuffer(req.rawBody) || typeof req.rawBody === "string") return req.rawBody;
  if (Buffer.isBuffer(req.body)) return req.body;
  if (req._body || req.readableEnded) return undefined; // a body parser consumed it
  return readStream(req);
}

/** Express middleware that verifies, parses and validates, then calls `onEvent` (or `next`). */
export function threetoneWebhook({ secret, onEvent, ...options }) {
  const webhook = new Webhook(secret, options);
  return async function threetoneWebhookMiddleware(req, res, next) {
    try {
      const body = await rawBodyOf(req);
      if (body === undefined) {
        res.status(500).json({
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
      if (!res.headersSent) res.status(200).json({ received: true });
    } catch (error) {
      if (error instanceof WebhookVerificationError) {
        res.status(error.status).json({ error: error.code, message: error.message });
      } else {
        next(error);
      }
    }
  };
}

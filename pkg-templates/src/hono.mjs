// Hono adapter: `app.post(path, threetoneWebhook({ secret }), (c) => ...)`.
// The verified event is `c.get("threetoneEvent")`.
//
// Hono caches request bodies, so the raw bytes stay available even after a
// JSON body parser ran (`c.req.json()` keeps the text). A body consumed
// through `c.req.raw` cannot be verified: that is answered 500
// `raw_body_unavailable`, never verified re-serialized.

import { SIGNATURE_HEADER, Webhook, WebhookVerificationError } from "threetone-webhooks";

export function threetoneWebhook({ secret, ...options }) {
  const webhook = new Webhook(secret, options);
  return async function threetoneWebhookMiddleware(c, next) {
    // Hono caches what its own methods read (json() keeps the text), but a
    // handler that consumed c.req.raw directly leaves nothing to verify.
    if (c.req.raw.bodyUsed && Object.keys(c.req.bodyCache ?? {}).length === 0) {
      return c.json(
        {
          error: "raw_body_unavailable",
          message:
            "The request body was consumed through c.req.raw before the ThreeTone webhook middleware. " +
            "Read bodies with c.req.json() / c.req.text() (Hono keeps the raw text), or mount the middleware first.",
        },
        500,
      );
    }
    const body = new Uint8Array(await c.req.arrayBuffer());
    try {
      c.set("threetoneEvent", webhook.constructEvent(body, c.req.header(SIGNATURE_HEADER)));
    } catch (error) {
      if (error instanceof WebhookVerificationError) return c.json({ error: error.code, message: error.message }, error.status);
      throw error;
    }
    await next();
  };
}

// Node's http module: `http.createServer(createNodeHandler({ secret, onEvent }))`
// or call the handler from your own routing. Reads the raw body itself, at
// most `maxBodyBytes` of it.
//
// The handler never rejects: an upload the client abandons is dropped, and
// anything `onEvent` throws is answered 500 and handed to `onError`, so that
// no request can end the process with an unhandled rejection.

import { SIGNATURE_HEADER, Webhook, WebhookVerificationError, payloadTooLargeError } from "threetone-webhooks";
import { BodyAborted, DEFAULT_MAX_BODY_BYTES, declaredLength, errorBody, readNodeBody, sendJson } from "./http.mjs";

/** The default `onError`: the error's stack on standard error, never the body or a secret. */
function reportError(error) {
  console.error("threetone-webhooks: the webhook handler failed:", error);
}

/** A `(req, res)` handler that answers 200 after `onEvent`, or the error's status. */
export function createNodeHandler({ secret, onEvent, onError = reportError, maxBodyBytes = DEFAULT_MAX_BODY_BYTES, ...options }) {
  const webhook = new Webhook(secret, { ...options, maxBodyBytes });

  /** 413, the rest of the body unread: the connection closes after the answer. */
  function tooLarge(res, length) {
    sendJson(res, 413, errorBody(payloadTooLargeError(length, maxBodyBytes)), { connection: "close" });
  }

  async function handle(req, res) {
    if (req.method !== "POST") return sendJson(res, 405, { error: "method_not_allowed" });
    const declared = declaredLength(req.headers["content-length"]);
    if (declared > maxBodyBytes) return tooLarge(res, declared);
    const read = await readNodeBody(req, maxBodyBytes);
    if (read.body === undefined) return tooLarge(res, read.length);
    let event;
    try {
      event = webhook.constructEvent(read.body, req.headers[SIGNATURE_HEADER.toLowerCase()]);
    } catch (error) {
      if (error instanceof WebhookVerificationError) return sendJson(res, error.status, errorBody(error));
      throw error;
    }
    await onEvent?.(event, req, res);
    if (!res.headersSent) sendJson(res, 200, { received: true });
  }

  /** What a failed handling becomes; never throws. */
  function failed(error, req, res) {
    try {
      if (error instanceof BodyAborted) return void res.destroy(); // nobody is left to answer
      if (!res.headersSent) sendJson(res, 500, { error: "internal_error", message: "the webhook handler failed" });
      else if (!res.writableEnded) res.destroy(); // a half-sent answer must not look complete
      onError(error, req);
    } catch (failure) {
      reportError(failure);
    }
  }

  return function threetoneWebhookHandler(req, res) {
    return handle(req, res).catch((error) => failed(error, req, res));
  };
}

// Node's http module: `http.createServer(createNodeHandler({ secret, onEvent }))`
// or call the handler from your own routing. Reads the raw body itself, at
// most `maxBodyBytes` of it.
//
// The handler never rejects: an upload the client abandons is dropped, and
// anything `onEvent` throws is answered 500 and handed to `onError`, so that
// no request can end the process with an unhandled rejection.

import { SIGNATURE_HEADER, Webhook, WebhookVerificationError, payloadTooLargeError } from "threetone-webhooks";
import { BodyAborted, DEFAULT_MAX_BODY_BYTES, declaredLength, errorBody, readNodeBody, sendJson } from "./http.mjs";

/** @import { IncomingMessage, ServerResponse } from "node:http" */
/** @import { Options, Secret, ThreeToneEvent } from "threetone-webhooks" */

/**
 * `onEvent` is called with the verified event; the handler answers 200 afterwards unless it answered itself. Larger
 * bodies than `maxBodyBytes` (default 1 MiB) get 413 (a declared Content-Length unread, a streamed body cut at the
 * limit). `onError` is called when handling fails for another reason than the request (`onEvent` threw or rejected):
 * the request was answered 500 if nothing was sent yet. Default: `console.error` of the error (never the body or the
 * secret). An upload the client abandoned is dropped without calling it.
 * @typedef {Options & {
 *   secret: Secret,
 *   onEvent?: (event: ThreeToneEvent, req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
 *   onError?: (error: unknown, req: IncomingMessage) => void,
 * }} NodeHandlerOptions
 */

/**
 * The default `onError`: the error's stack on standard error, never the body or a secret.
 * @param {unknown} error
 */
function reportError(error) {
  console.error("threetone-webhooks: the webhook handler failed:", error);
}

/**
 * A `(req, res)` handler for Node's http server that answers 200 after `onEvent`, or the error's status. Its promise
 * never rejects.
 * @param {NodeHandlerOptions} options
 * @returns {(req: IncomingMessage, res: ServerResponse) => Promise<void>}
 */
export function createNodeHandler({ secret, onEvent, onError = reportError, maxBodyBytes = DEFAULT_MAX_BODY_BYTES, ...options }) {
  const webhook = new Webhook(secret, { ...options, maxBodyBytes });

  /**
   * 413, the rest of the body unread: the connection closes after the answer.
   * @param {ServerResponse} res
   * @param {number} length
   */
  function tooLarge(res, length) {
    sendJson(res, 413, errorBody(payloadTooLargeError(length, maxBodyBytes)), { connection: "close" });
  }

  /**
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   */
  async function handle(req, res) {
    if (req.method !== "POST") return sendJson(res, 405, { error: "method_not_allowed" });
    const declared = declaredLength(req.headers["content-length"]);
    if (declared > maxBodyBytes) return tooLarge(res, declared);
    const read = await readNodeBody(req, maxBodyBytes);
    if (read.body === undefined) return tooLarge(res, read.length);
    let event;
    try {
      const signature = req.headers[SIGNATURE_HEADER.toLowerCase()];
      // Sent twice, the header is no signature.
      event = webhook.constructEvent(read.body, typeof signature === "string" ? signature : undefined);
    } catch (error) {
      if (error instanceof WebhookVerificationError) return sendJson(res, error.status, errorBody(error));
      throw error;
    }
    await onEvent?.(event, req, res);
    if (!res.headersSent) sendJson(res, 200, { received: true });
  }

  /**
   * What a failed handling becomes; never throws.
   * @param {unknown} error
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   */
  function failed(error, req, res) {
    try {
      if (error instanceof BodyAborted) return void res.destroy(); // nobody is left to answer
      if (!res.headersSent) sendJson(res, 500, errorBody({ code: "internal_error", message: "the webhook handler failed" }));
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

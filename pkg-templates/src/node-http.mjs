// Node's http module: `http.createServer(createNodeHandler({ secret, onEvent }))`
// or call the handler from your own routing. Reads the raw body itself.

import { SIGNATURE_HEADER, Webhook, WebhookVerificationError } from "threetone-webhooks";

function send(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** A `(req, res)` handler that answers 200 after `onEvent`, or the error's status. */
export function createNodeHandler({ secret, onEvent, maxBodyBytes = 1024 * 1024, ...options }) {
  const webhook = new Webhook(secret, options);
  return async function threetoneWebhookHandler(req, res) {
    if (req.method !== "POST") return send(res, 405, { error: "method_not_allowed" });
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
      size += chunk.length;
      if (size > maxBodyBytes) return send(res, 413, { error: "payload_too_large" });
      chunks.push(chunk);
    }
    let event;
    try {
      event = webhook.constructEvent(Buffer.concat(chunks), req.headers[SIGNATURE_HEADER.toLowerCase()]);
    } catch (error) {
      if (error instanceof WebhookVerificationError) return send(res, error.status, { error: error.code, message: error.message });
      throw error;
    }
    await onEvent?.(event, req, res);
    if (!res.headersSent) send(res, 200, { received: true });
  };
}

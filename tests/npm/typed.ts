// Compiled with `tsc --noEmit` (types.test.mjs): the typed API as a user
// writes it, and misuse that must not compile (each @ts-expect-error fails
// the build if the line ever compiles).
import { constructEvent, generateTestEvent, parseEvent, payloadTooLargeError, sign, verify, Webhook, WebhookVerificationError } from "threetone-webhooks";
import type { CallEnded, ErrorCode, EventType, ThreeToneEvent } from "threetone-webhooks";
import { threetoneWebhook } from "threetone-webhooks/express";
import { createNodeHandler } from "threetone-webhooks/node";

const { body, headers } = generateTestEvent("conversation_ended", { secret: "k" });
const event: ThreeToneEvent = constructEvent(body, headers["x-threetone-signature"], "k", { maxAgeSeconds: 300 });

switch (event.event) {
  case "call_ended": {
    const seconds: number = event.data.duration_seconds;
    const data: CallEnded = event.data;
    void seconds, data;
    break;
  }
  case "conversation_ended": {
    const score: number = event.data.sentiment_analysis.sentiment_score;
    const topics: string[] = event.data.topics_discussed;
    void score, topics;
    break;
  }
  case "quota_exceeded": {
    const limit: number | null | undefined = event.data.limit;
    void limit;
    break;
  }
}

const ok: boolean = verify(new Uint8Array(), null, ["new", "old"]);
const limited: boolean = verify(new Uint8Array(), "sha256=00", "k", { maxBodyBytes: 1024 });
const signed: string = sign("body", "k", { maxBodyBytes: 1024 });
const tooLarge: WebhookVerificationError = payloadTooLargeError(2048, 1024);
const tooLargeCode: ErrorCode = "payload_too_large";
void limited, signed, tooLarge, tooLargeCode;
const webhook = new Webhook("k", { allowUnknownEvents: false, maxBodyBytes: 64 * 1024 });
const again: ThreeToneEvent = webhook.constructEvent(new ArrayBuffer(0), undefined);
const kind: EventType = again.event;
try {
  parseEvent(body);
} catch (error) {
  if (error instanceof WebhookVerificationError) {
    const code: ErrorCode = error.code;
    const status: number = error.status;
    void code, status;
  }
}
threetoneWebhook({ secret: "k", onEvent: (received) => void received.event, maxBodyBytes: 1024 });
createNodeHandler({ secret: ["k", "old"], maxBodyBytes: 1024, onError: (error, req) => void [error, req.url] });
void ok, kind;

const alreadyParsed: ThreeToneEvent = event;
// @ts-expect-error: the body must be raw, not a parsed object
constructEvent(alreadyParsed, "sha256=00", "k");
// @ts-expect-error: secrets are strings
verify(body, "sha256=00", 42);
// @ts-expect-error: not an event type
generateTestEvent("call_exploded");
// @ts-expect-error: unknown option
parseEvent(body, { maxAge: 5 });
// @ts-expect-error: a limit is a number of bytes
verify(body, "sha256=00", "k", { maxBodyBytes: "1mb" });
if (event.event === "call_started") {
  // @ts-expect-error: call_started has no duration, so its type is unknown
  event.data.duration_seconds.toFixed();
  // @ts-expect-error: direction is "inbound" | "outbound"
  const direction: "sideways" = event.data.direction;
  void direction;
}

// Compiled with `tsc --noEmit` (types.test.mjs): the typed API as a user
// writes it, and misuse that must not compile (each @ts-expect-error fails
// the build if the line ever compiles).
import { constructEvent, EVENT_TYPES, generateTestEvent, isKnownEvent, parseEvent, payloadTooLargeError, SIGNATURE_HEADER, sign, verify, verifyRequest, Webhook, WebhookVerificationError } from "threetone-webhooks";
import type { CallEnded, ErrorCode, EventType, KnownEvent, ThreeToneEvent, UnknownEvent } from "threetone-webhooks";
import { threetoneWebhook } from "threetone-webhooks/express";
import { createNodeHandler } from "threetone-webhooks/node";

const { body, headers } = generateTestEvent("conversation_ended", { secret: "k" });
// Unknown events are accepted by default: the result may be one.
const open: ThreeToneEvent = constructEvent(body, headers["x-threetone-signature"], "k", { maxAgeSeconds: 300 });
// @ts-expect-error: by default an event of an unknown type can arrive, so the result is not a KnownEvent
const notKnown: KnownEvent = open;
// @ts-expect-error: allowUnknownEvents: true keeps them
const stillOpen: KnownEvent = parseEvent(body, { allowUnknownEvents: true });
const flag: boolean = Math.random() > 0.5;
// @ts-expect-error: a boolean that may be true keeps them too
const maybeOpen: KnownEvent = parseEvent(body, { allowUnknownEvents: flag });
// allowUnknownEvents: false gives the closed union.
const event: KnownEvent = constructEvent(body, headers["x-threetone-signature"], "k", { maxAgeSeconds: 300, allowUnknownEvents: false });
const parsedKnown: KnownEvent = parseEvent(body, { allowUnknownEvents: false });
const viaWebhook: KnownEvent = new Webhook("k").constructEvent(body, headers["x-threetone-signature"], { allowUnknownEvents: false });
const viaRequest: Promise<KnownEvent> = verifyRequest(new Request("https://example.test/"), "k", { allowUnknownEvents: false });
// @ts-expect-error: verifyRequest's default is open as well
const viaRequestOpen: Promise<KnownEvent> = verifyRequest(new Request("https://example.test/"), "k");
void notKnown, stillOpen, maybeOpen, parsedKnown, viaWebhook, viaRequest, viaRequestOpen;
if (isKnownEvent(open)) {
  const known: KnownEvent = open;
  if (open.event === "call_ended") {
    const seconds: number = open.data.duration_seconds;
    void seconds;
  }
  void known;
} else {
  const unknown: UnknownEvent = open;
  const name: string = unknown.event;
  // @ts-expect-error: an unknown event's data is not typed
  unknown.data.call_id;
  void name;
}
const header: "X-ThreeTone-Signature" = SIGNATURE_HEADER;
const types: readonly EventType[] = EVENT_TYPES;
void header, types;

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
// @ts-expect-error: an unknown event's name is any string, not an EventType
const unnamed: EventType = again.event;
const kind: EventType = webhook.constructEvent(new ArrayBuffer(0), undefined, { allowUnknownEvents: false }).event;
void unnamed;
try {
  parseEvent(body);
} catch (error) {
  if (error instanceof WebhookVerificationError) {
    const code: ErrorCode = error.code;
    const status: number = error.status;
    const field: [string | undefined, string | undefined, string | undefined] = [error.path, error.expected, error.found];
    // @ts-expect-error: the code is read-only
    error.code = "invalid_json";
    // @ts-expect-error: not an error code
    const wrong: ErrorCode = "signature_wrong";
    void code, status, field, wrong;
  }
}
threetoneWebhook({ secret: "k", onEvent: (received) => void received.event, maxBodyBytes: 1024 });
createNodeHandler({ secret: ["k", "old"], maxBodyBytes: 1024, onError: (error, req) => void [error, req.url] });
void ok, kind;

const alreadyParsed: KnownEvent = event;
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

// Fastify, with its own types: the plugins and the preHandler fit where Fastify takes them (Koa: typed-koa.ts).
import Fastify from "fastify";
import { rawBodyParser, threetonePreHandler, threetoneWebhook as fastifyWebhook } from "threetone-webhooks/fastify";

const fastify = Fastify();
fastify.register(fastifyWebhook, { path: "/webhooks/threetone", secret: "k", maxBodyBytes: 4096, onEvent: (received) => void received.event });
fastify.register(async (scope) => {
  await scope.register(rawBodyParser);
  scope.post("/hook", { preHandler: threetonePreHandler({ secret: ["k", "old"], allowUnknownEvents: false }) }, async () => ({ ok: true }));
});
// @ts-expect-error: the plugin needs the route's path
fastify.register(fastifyWebhook, { secret: "k" });
// @ts-expect-error: and a secret
fastify.register(fastifyWebhook, { path: "/hook" });
// @ts-expect-error: a limit is a number of bytes
fastify.register(fastifyWebhook, { path: "/hook", secret: "k", maxBodyBytes: "1mb" });
// @ts-expect-error: onEvent's event is a ThreeToneEvent, not a string
fastify.register(fastifyWebhook, { path: "/hook", secret: "k", onEvent: (received: string) => void received });
// @ts-expect-error: secrets are strings
threetonePreHandler({ secret: 42 });

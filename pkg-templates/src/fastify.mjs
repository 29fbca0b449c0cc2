// Fastify adapter: `app.register(threetoneWebhook, { path, secret, onEvent })`.
//
// The signature covers the raw body, and Fastify's own JSON parser keeps only
// the parsed object. The plugin registers its route in a scope of its own
// whose one content-type parser keeps the raw bytes (rawBodyParser), so the
// rest of the app keeps Fastify's JSON parsing. For a route of your own,
// register rawBodyParser in its scope and put threetonePreHandler(...) in the
// route's `preHandler`. Bodies are read up to the route's `bodyLimit`
// (Fastify's own option: per route, else the server's, 1 MiB by default);
// `maxBodyBytes` sets the plugin's route's. A larger body is 413
// payload_too_large: unread when Content-Length says so, else cut at the limit.

import { SIGNATURE_HEADER, Webhook, WebhookVerificationError, payloadTooLargeError } from "threetone-webhooks";
import { declaredLength, errorBody, readNodeBody } from "./http.mjs";

/** @import { Readable } from "node:stream" */
/** @import { Options, Secret, ThreeToneEvent } from "threetone-webhooks" */

/**
 * The shape of a Fastify request the adapter uses (no dependency on Fastify's types).
 * @typedef {object} FastifyLikeRequest
 * @property {unknown} body
 * @property {Record<string, string | string[] | undefined>} headers
 * @property {{ bodyLimit: number }} routeOptions
 * @property {ThreeToneEvent} [threetoneEvent]
 */
/**
 * The shape of a Fastify reply the adapter uses.
 * @typedef {object} FastifyLikeReply
 * @property {(statusCode: number) => FastifyLikeReply} code
 * @property {(name: string, value: string) => FastifyLikeReply} header
 * @property {(payload?: any) => FastifyLikeReply} send
 * @property {boolean} sent
 */
/**
 * The shape of a Fastify instance the plugins use.
 * @typedef {object} FastifyLikeInstance
 * @property {(contentType: "*", parser: (request: any, payload: Readable) => Promise<unknown>) => unknown} addContentTypeParser
 * @property {() => unknown} removeAllContentTypeParsers
 * @property {(route: any) => unknown} route
 * @property {(handler: (error: any, request: any, reply: any) => unknown) => unknown} setErrorHandler
 */

/**
 * @typedef {Options & { secret: Secret }} FastifyPreHandlerOptions `maxBodyBytes` defaults to the route's `bodyLimit`.
 */

/**
 * @typedef {Options & {
 *   path: string,
 *   secret: Secret,
 *   onEvent?: (event: ThreeToneEvent, request: any, reply: any) => void | Promise<void>,
 * }} FastifyWebhookOptions The route is `POST path` (under the registration's `prefix`); `maxBodyBytes` is its
 *   `bodyLimit` (default: the server's, 1 MiB unless set). `onEvent` is called with the verified event; 200
 *   `{ received: true }` is sent afterwards unless it answered itself. What it throws goes to Fastify's error handler.
 */

const RAW_BODY_UNAVAILABLE = errorBody({
  code: "raw_body_unavailable",
  message:
    "The request body was parsed before the ThreeTone webhook preHandler, and its raw bytes are gone. Register " +
    "rawBodyParser from 'threetone-webhooks/fastify' in the route's scope, or use app.register(threetoneWebhook, ...).",
});

/**
 * A Fastify content-type parser for every type that keeps the raw body (a Buffer) as `request.body`, read up to the
 * route's `bodyLimit`: a larger body is a WebhookVerificationError `payload_too_large` (413) for the error handler.
 * @param {FastifyLikeRequest} request
 * @param {Readable} payload
 * @returns {Promise<Buffer>}
 */
async function parseRaw(request, payload) {
  const limit = request.routeOptions.bodyLimit;
  const declared = declaredLength(request.headers["content-length"]);
  if (declared > limit) throw payloadTooLargeError(declared, limit);
  const read = await readNodeBody(payload, limit);
  if (read.body === undefined) throw payloadTooLargeError(read.length, limit);
  return /** @type {Buffer} */ (read.body);
}

/**
 * A Fastify plugin, for the scope you register it in (it is not encapsulated, as fastify-plugin makes plugins): the
 * scope's content-type parsers are replaced by one that keeps the raw body, for every content type, as
 * `request.body` (a Buffer), read up to the route's `bodyLimit`. Register it in the webhook route's own scope
 * (`app.register(async (scope) => { scope.register(rawBodyParser); scope.post(...) })`), never at the root.
 * @param {FastifyLikeInstance} instance
 * @returns {Promise<void>}
 */
export async function rawBodyParser(instance) {
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser("*", parseRaw);
}
Object.assign(rawBodyParser, { [Symbol.for("skip-override")]: true, [Symbol.for("fastify.display-name")]: "threetone-raw-body" });

/**
 * The raw body of a request, or undefined when a parser kept only an object.
 * @param {FastifyLikeRequest} request
 * @returns {string | Uint8Array | undefined}
 */
function rawBodyOf(request) {
  const { body } = request;
  if (body === undefined || body === null) return new Uint8Array(0); // Fastify parses nothing without a body
  if (body instanceof Uint8Array || typeof body === "string") return body;
  return undefined;
}

/**
 * Verifies, parses and validates `request`'s raw body; the event, or undefined once the reply is sent.
 * @param {Webhook} webhook
 * @param {Options} options
 * @param {FastifyLikeRequest} request
 * @param {FastifyLikeReply} reply
 */
function verified(webhook, options, request, reply) {
  const body = rawBodyOf(request);
  if (body === undefined) return void reply.code(500).send(RAW_BODY_UNAVAILABLE);
  const signature = request.headers[SIGNATURE_HEADER.toLowerCase()];
  try {
    // Sent twice, the header is no signature.
    const event = webhook.constructEvent(body, typeof signature === "string" ? signature : undefined, options);
    request.threetoneEvent = event;
    return event;
  } catch (error) {
    if (!(error instanceof WebhookVerificationError)) throw error;
    reply.code(error.status).send(errorBody(error));
  }
}

/**
 * A Fastify `preHandler` that verifies, parses and validates the raw body (left by rawBodyParser, or by a parser of
 * yours with `parseAs: "buffer"`), sets `request.threetoneEvent` and lets the handler run; an error is answered with
 * its status and `{ error, message, ... }`.
 * @param {FastifyPreHandlerOptions} options
 * @returns {(request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<void>}
 */
export function threetonePreHandler({ secret, maxBodyBytes, ...options }) {
  const webhook = new Webhook(secret, { ...options, maxBodyBytes });
  return async function threetonePreHandler(request, reply) {
    verified(webhook, { ...options, maxBodyBytes: maxBodyBytes ?? request.routeOptions.bodyLimit }, request, reply);
  };
}

/**
 * A Fastify plugin that serves `POST path` in a scope of its own (rawBodyParser there, the app's parsers untouched):
 * verifies, parses and validates, then calls `onEvent` and answers 200 `{ received: true }`, or answers the error's
 * status with `{ error, message, ... }` (413 `payload_too_large` over `maxBodyBytes`).
 * @param {FastifyLikeInstance} instance
 * @param {FastifyWebhookOptions} options
 * @returns {Promise<void>}
 */
export async function threetoneWebhook(instance, { path, secret, onEvent, maxBodyBytes, ...rest }) {
  // What Fastify's register adds to a plugin's options.
  const { prefix: _prefix, logLevel: _logLevel, logSerializers: _logSerializers, ...options } = /** @type {Options & Record<string, unknown>} */ (rest);
  if (typeof path !== "string") throw new TypeError(`threetoneWebhook: the route's path must be a string, got ${typeof path}.`);
  const webhook = new Webhook(secret, { ...options, maxBodyBytes });
  await rawBodyParser(instance);
  instance.setErrorHandler((error, _request, reply) => {
    // The parser's payload_too_large, in the adapter's answer; anything else goes to the app's error handler.
    if (!(error instanceof WebhookVerificationError)) throw error;
    /** @type {FastifyLikeReply} */ (reply).code(error.status).send(errorBody(error));
  });
  instance.route({
    method: "POST",
    url: path,
    ...(maxBodyBytes === undefined ? {} : { bodyLimit: maxBodyBytes }),
    /**
     * @param {FastifyLikeRequest} request
     * @param {FastifyLikeReply} reply
     */
    async handler(request, reply) {
      const event = verified(webhook, { ...options, maxBodyBytes: request.routeOptions.bodyLimit }, request, reply);
      if (event === undefined) return reply;
      await onEvent?.(event, request, reply);
      if (!reply.sent) reply.code(200).send({ received: true });
      return reply;
    },
  });
}

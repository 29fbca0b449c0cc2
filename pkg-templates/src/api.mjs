// The public API of threetone-webhooks. Every rule lives in the Rust core
// (./glue.mjs is its wasm-bindgen binding); this file only adapts JavaScript
// values to it and turns failures into WebhookVerificationError.

import { EVENT_TYPES, SAMPLE_ID, SAMPLE_TEMPLATES, SAMPLE_TIMESTAMP } from "./events.mjs";
import { Input, Verifier, parse, wasmMemory } from "./glue.mjs";
import { DEFAULT_MAX_BODY_BYTES, declaredLength, readWebBody } from "./http.mjs";

export { EVENT_TYPES };

/** Name of the header that carries the signature. */
export const SIGNATURE_HEADER = "X-ThreeTone-Signature";

/** A webhook that must not be trusted: `code` is stable, `status` is what to answer. */
export class WebhookVerificationError extends Error {
  constructor(code, message, status, path) {
    super(message);
    this.name = "WebhookVerificationError";
    this.code = code;
    this.status = status;
    if (path !== undefined) this.path = path;
  }
}

const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

// Each core call reads its header and body from one reused buffer in wasm
// memory (the core's Input), written here by the engine's native encoder or
// a byte copy: wasm-bindgen's own arguments would allocate and free a buffer
// for each, and copy a string in character by character. The buffer is made
// at the first call: where the wasm loads asynchronously (the inline entry's
// top-level await), this module runs before it is ready.
let input = null;
let memory = null;
let memoryBytes = new Uint8Array(0);
// The header goes first, into a view kept while the buffer stays put: making
// a view costs as much as encoding a 71-byte header into it.
const HEADER_VIEW_BYTES = 256;
let headerView = memoryBytes.subarray(0, 0);
let headerViewStart = -1;
/** Byte lengths of what `place` last wrote. */
const placed = { header: 0, body: 0 };

// A typed array's own length, read by the engine's getter: a subclass (or an
// own property) can make `length` and `byteLength` say anything, while `set`
// copies every real byte.
const TypedArray = Object.getPrototypeOf(Uint8Array);
const intrinsic = (prototype, name) => Object.getOwnPropertyDescriptor(prototype, name).get;
const typedArrayTag = intrinsic(TypedArray.prototype, Symbol.toStringTag);
const typedArrayBuffer = intrinsic(TypedArray.prototype, "buffer");
const typedArrayOffset = intrinsic(TypedArray.prototype, "byteOffset");
const typedArrayLength = intrinsic(TypedArray.prototype, "byteLength");
const dataViewBuffer = intrinsic(DataView.prototype, "buffer");
const dataViewOffset = intrinsic(DataView.prototype, "byteOffset");
const dataViewLength = intrinsic(DataView.prototype, "byteLength");

/** The UTF-8 length of `text` (lone surrogates become U+FFFD, 3 bytes, as TextEncoder writes them). */
function utf8Length(text) {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    length += unit < 0x800 ? 1 : 2;
    // A surrogate pair: 4 bytes for its two units.
    if (unit >= 0xd800 && unit < 0xdc00 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
  }
  return length;
}

/**
 * Writes `header`, then the raw body, into the core's input. A body over
 * `maxBodyBytes`, or one that cannot fit in wasm memory, throws the core's
 * `payload_too_large` before anything is reserved for it.
 */
function place(header, raw, maxBodyBytes) {
  // A string takes at least 1 and at most 3 UTF-8 bytes per UTF-16 unit.
  const headerCapacity = Math.max(HEADER_VIEW_BYTES, header.length * 3);
  const text = typeof raw === "string";
  const length = text ? raw.length : typedArrayLength.call(raw);
  input ??= new Input();
  if (length > maxBodyBytes) raise(input.tooLarge(text ? utf8Length(raw) : length, headerCapacity, maxBodyBytes));
  let bodyCapacity = text ? Math.min(length * 3, maxBodyBytes) : length;
  let start = input.reserve(headerCapacity + bodyCapacity);
  if (start === 0 && text) {
    // Three bytes a unit did not fit: what the text takes exactly may.
    bodyCapacity = utf8Length(raw);
    start = input.reserve(headerCapacity + bodyCapacity);
  }
  if (start === 0) raise(input.tooLarge(bodyCapacity, headerCapacity));
  // Growing wasm memory detaches every view of it.
  if (memoryBytes.byteLength === 0) memoryBytes = new Uint8Array((memory ??= wasmMemory()).buffer);
  if (start !== headerViewStart || headerView.byteLength === 0) {
    headerView = memoryBytes.subarray(start, start + HEADER_VIEW_BYTES);
    headerViewStart = start;
  }
  const headerBytes = headerCapacity === HEADER_VIEW_BYTES ? headerView : memoryBytes.subarray(start, start + headerCapacity);
  placed.header = header === "" ? 0 : utf8Encoder.encodeInto(header, headerBytes).written;
  const bodyStart = start + placed.header;
  if (text) {
    const { read, written } = utf8Encoder.encodeInto(raw, memoryBytes.subarray(bodyStart, bodyStart + bodyCapacity));
    // Only a capacity cut to maxBodyBytes leaves text unwritten.
    if (read < raw.length) raise(input.tooLarge(utf8Length(raw), headerCapacity, maxBodyBytes));
    placed.body = written;
  } else {
    memoryBytes.set(raw, bodyStart);
    placed.body = length;
  }
}

/**
 * After a call that threw for another reason than what it was given (a
 * WebhookVerificationError): a trap in wasm leaves the input borrowed for
 * good, so the next call starts from a fresh input and fresh views.
 */
function recover(error) {
  if (error instanceof WebhookVerificationError) return error;
  const stale = input;
  input = null;
  memoryBytes = new Uint8Array(0);
  headerView = memoryBytes;
  headerViewStart = -1;
  try {
    stale?.free();
  } catch {
    // Still borrowed: left unreleased, which is all that can be done with it.
  }
  return error;
}

/** The error a failure from the core describes, releasing the failure. */
function errorOf(failure) {
  const error = new WebhookVerificationError(failure.code, failure.message, failure.status, failure.path);
  failure.free();
  return error;
}

/** Throws the error a failure from the core describes. */
function raise(failure) {
  throw errorOf(failure);
}

/**
 * The core's `payload_too_large` error for a body of `length` bytes over
 * `maxBodyBytes`: for handlers that read bodies themselves (the adapters do).
 */
export function payloadTooLargeError(length, maxBodyBytes) {
  try {
    input ??= new Input();
    return errorOf(input.tooLarge(length, 0, maxBodyBytes));
  } catch (error) {
    throw recover(error);
  }
}

function describe(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? `an object (${value.constructor?.name ?? "Object"})` : `a ${typeof value}`;
}

/** The raw body as a string or bytes, or a TypeError that says how to fix the call. */
function rawBody(body, caller) {
  if (typeof body === "string") return body;
  // Every view is taken as the engine sees it, whatever its own properties say.
  const tag = typedArrayTag.call(body);
  if (tag === "Uint8Array") return body; // a Buffer too
  if (tag !== undefined) return new Uint8Array(typedArrayBuffer.call(body), typedArrayOffset.call(body), typedArrayLength.call(body));
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(dataViewBuffer.call(body), dataViewOffset.call(body), dataViewLength.call(body));
  throw new TypeError(
    `${caller}: the body must be the raw request body (string, Uint8Array, Buffer or ArrayBuffer), got ${describe(body)}. ` +
      "The signature covers the exact bytes ThreeTone sent: read the body raw (express.raw(), await request.text()) " +
      "instead of passing a parsed JSON object.",
  );
}

// Verifiers keyed by their secrets, so HMAC key setup happens once per secret
// set even through the functional API: a single secret by itself, a list by
// its JSON, in two maps. Unambiguous: a joined key made the list ["a", "b"]
// and the secret "a\u0000b" one entry. Bounded: a long-lived process that
// rotates secrets does not grow it.
const singleVerifiers = new Map();
const listVerifiers = new Map();
const VERIFIER_CACHE_SIZE = 16;

function secretList(secret, caller) {
  const secrets = typeof secret === "string" ? [secret] : secret;
  if (!Array.isArray(secrets) || !secrets.every((item) => typeof item === "string")) {
    throw new TypeError(`${caller}: the secret must be a string or an array of strings, got ${describe(secret)}.`);
  }
  return secrets;
}

function verifierFor(secret, caller) {
  const single = typeof secret === "string";
  const cache = single ? singleVerifiers : listVerifiers;
  const key = single ? secret : JSON.stringify(secretList(secret, caller));
  let verifier = cache.get(key);
  if (verifier === undefined) {
    verifier = newVerifier(secretList(secret, caller), caller);
    if (cache.size >= VERIFIER_CACHE_SIZE) cache.delete(cache.keys().next().value);
    cache.set(key, verifier);
  }
  return verifier;
}

function newVerifier(secrets, caller) {
  try {
    return new Verifier(secrets);
  } catch (failure) {
    const { code, status } = failure;
    failure.free?.();
    throw new WebhookVerificationError(
      code,
      `${caller}: ${code === "no_secret" ? "no webhook secret was given" : "the webhook secret is empty"}. ` +
        "Pass the secret configured in ThreeTone (for example process.env.THREETONE_WEBHOOK_SECRET) and check that it is set.",
      status,
    );
  }
}

function headerValue(signature) {
  return typeof signature === "string" ? signature : "";
}

/** `options.maxBodyBytes`, or `fallback` when not given. */
function bodyLimit(options, fallback = Infinity) {
  const max = options?.maxBodyBytes;
  if (max === undefined) return fallback;
  if (typeof max !== "number" || !(max >= 0)) {
    const got = typeof max === "number" ? max : describe(max);
    throw new TypeError(`maxBodyBytes must be a number of bytes (0 or more, or Infinity), got ${got}.`);
  }
  return max;
}

function optionArguments(options = {}) {
  const { maxAgeSeconds, now, allowUnknownEvents = true } = options;
  if (maxAgeSeconds == null) return [undefined, 0, allowUnknownEvents]; // the clock is read only for freshness
  const nowSeconds = now instanceof Date ? now.getTime() / 1000 : (now ?? Date.now() / 1000);
  return [maxAgeSeconds, nowSeconds, allowUnknownEvents];
}

// Each core call: the input placed, then the call, in one try, so that
// whatever throws (a trap in wasm included) leaves the next call working.

function verifyWith(verifier, body, signature, maxBodyBytes) {
  const raw = rawBody(body, "verify");
  try {
    place(headerValue(signature), raw, maxBodyBytes);
    return verifier.verify(input, placed.header, placed.body);
  } catch (error) {
    throw recover(error);
  }
}

function constructWith(verifier, body, signature, options) {
  const raw = rawBody(body, "constructEvent");
  const maxBodyBytes = bodyLimit(options);
  let failure;
  try {
    place(headerValue(signature), raw, maxBodyBytes);
    failure = verifier.construct(input, placed.header, placed.body, ...optionArguments(options));
  } catch (error) {
    throw recover(error);
  }
  if (failure !== undefined) raise(failure);
  // Validated by the core: parse the exact bytes with the runtime's own parser.
  return JSON.parse(typeof raw === "string" ? raw : utf8.decode(raw));
}

function signWith(verifier, body, maxBodyBytes) {
  const raw = rawBody(body, "sign");
  try {
    place("", raw, maxBodyBytes);
    return verifier.sign(input, placed.body);
  } catch (error) {
    throw recover(error);
  }
}

/** Whether `signature` is a valid signature of `body` under `secret` (or any of several). */
export function verify(body, signature, secret, options) {
  const failure = verifyWith(verifierFor(secret, "verify"), body, signature, bodyLimit(options));
  if (failure === undefined) return true;
  failure.free();
  return false;
}

/** Like `verify`, but throws a WebhookVerificationError saying what is wrong. */
export function verifyOrThrow(body, signature, secret, options) {
  const failure = verifyWith(verifierFor(secret, "verifyOrThrow"), body, signature, bodyLimit(options));
  if (failure !== undefined) raise(failure);
}

/** `sha256=<64 lowercase hex>` for `body` under `secret` (the first, if several). */
export function sign(body, secret, options) {
  return signWith(verifierFor(secret, "sign"), body, bodyLimit(options));
}

/** Verifies the signature, then parses and validates the event. */
export function constructEvent(body, signature, secret, options) {
  return constructWith(verifierFor(secret, "constructEvent"), body, signature, options);
}

/** Parses and validates an event whose authenticity is already established. */
export function parseEvent(body, options) {
  const raw = rawBody(body, "parseEvent");
  const maxBodyBytes = bodyLimit(options);
  let failure;
  try {
    place("", raw, maxBodyBytes);
    failure = parse(input, placed.body, ...optionArguments(options));
  } catch (error) {
    throw recover(error);
  }
  if (failure !== undefined) raise(failure);
  return JSON.parse(typeof raw === "string" ? raw : utf8.decode(raw));
}

/** The options a Webhook was made with (set by the class). */
let webhookOptions;

/** A receiver bound to its secrets (prepared once) and default options. */
export class Webhook {
  #verifier;
  #options;
  #maxBodyBytes;

  constructor(secret, options) {
    this.#verifier = newVerifier(secretList(secret, "new Webhook"), "new Webhook");
    this.#options = options;
    this.#maxBodyBytes = bodyLimit(options);
  }

  verify(body, signature) {
    const failure = verifyWith(this.#verifier, body, signature, this.#maxBodyBytes);
    if (failure === undefined) return true;
    failure.free();
    return false;
  }

  verifyOrThrow(body, signature) {
    const failure = verifyWith(this.#verifier, body, signature, this.#maxBodyBytes);
    if (failure !== undefined) raise(failure);
  }

  constructEvent(body, signature, options) {
    return constructWith(this.#verifier, body, signature, options ?? this.#options);
  }

  sign(body) {
    return signWith(this.#verifier, body, this.#maxBodyBytes);
  }

  static {
    webhookOptions = (webhook) => webhook.#options;
  }
}

/**
 * Reads a Fetch API Request's raw body and header, then `constructEvent`.
 * The body is read only up to `maxBodyBytes` (default 1 MiB); a declared
 * Content-Length over it is refused before reading.
 */
export async function verifyRequest(request, secret, options) {
  if (typeof request?.arrayBuffer !== "function" || typeof request?.headers?.get !== "function") {
    throw new TypeError(`verifyRequest: expected a Fetch API Request, got ${describe(request)}.`);
  }
  const webhook = secret instanceof Webhook ? secret : undefined;
  const verifier = webhook ?? verifierFor(secret, "verifyRequest");
  const effective = options ?? (webhook && webhookOptions(webhook));
  const maxBodyBytes = bodyLimit(effective, DEFAULT_MAX_BODY_BYTES);
  const declared = declaredLength(request.headers.get("content-length"));
  if (declared > maxBodyBytes) throw payloadTooLargeError(declared, maxBodyBytes);
  if (request.bodyUsed) throw new TypeError("verifyRequest: the request body was already read; pass the request before anything reads it.");
  const read =
    request.body === null
      ? { body: new Uint8Array(0) }
      : request.body instanceof ReadableStream
        ? await readWebBody(request.body, maxBodyBytes)
        : { body: new Uint8Array(await request.arrayBuffer()) }; // a Request-like without a stream: the core checks the limit
  if (read.body === undefined) throw payloadTooLargeError(read.length, maxBodyBytes);
  const signature = request.headers.get(SIGNATURE_HEADER);
  // The limit is applied above; the core's own check then agrees.
  const limited = { ...effective, maxBodyBytes };
  return webhook ? webhook.constructEvent(read.body, signature, limited) : constructWith(verifier, read.body, signature, limited);
}

function merge(target, overrides) {
  for (const [key, value] of Object.entries(overrides)) {
    const nested = value !== null && typeof value === "object" && !Array.isArray(value);
    target[key] = nested && typeof target[key] === "object" ? merge({ ...target[key] }, value) : value;
  }
  return target;
}

/** A realistic sample event of `type`, signed when a secret is given. */
export function generateTestEvent(type, { secret, overrides, now, id } = {}) {
  const nowSeconds = now instanceof Date ? now.getTime() / 1000 : (now ?? Date.now() / 1000);
  const sampleId = id ?? Math.random().toString(16).slice(2, 10);
  if (!EVENT_TYPES.includes(type)) {
    throw new TypeError(`generateTestEvent: unknown event type ${JSON.stringify(type)}; expected one of ${EVENT_TYPES.join(", ")}.`);
  }
  // The core's template, filled as its sample_event does: whole seconds in
  // UTC, then the id escaped as JSON (last, and through functions, so that
  // nothing in it is read as a placeholder or a replacement pattern).
  const timestamp = new Date(Math.floor(nowSeconds) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  if (!/^\d{4}-/.test(timestamp)) throw new RangeError("generateTestEvent: `now` must fall in the years 0 to 9999.");
  const escapedId = JSON.stringify(String(sampleId)).slice(1, -1);
  let body = SAMPLE_TEMPLATES[type].replace(SAMPLE_TIMESTAMP, () => timestamp).replaceAll(SAMPLE_ID, () => escapedId);
  if (overrides !== undefined) body = JSON.stringify(merge(JSON.parse(body), overrides));
  const headers = { "content-type": "application/json" };
  if (secret !== undefined) headers[SIGNATURE_HEADER.toLowerCase()] = sign(body, secret);
  return { body, headers };
}

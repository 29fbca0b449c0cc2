// The public API of threetone-webhooks. Every rule lives in the Rust core
// (./glue.mjs is its wasm-bindgen binding, ./core.mjs its constants); this
// file only adapts JavaScript values to it and turns failures into
// WebhookVerificationError. Typed with JSDoc, checked by `tsc --checkJs`,
// which also writes the package's declarations from it (cargo xtask npm).

import { EVENT_TYPES, SIGNATURE_HEADER } from "./core.mjs";
import { Failure, Input, Verifier, sampleEvent, validateEvent, wasmMemory } from "./glue.mjs";
import { DEFAULT_MAX_BODY_BYTES, declaredLength, readWebBody } from "./http.mjs";
import { nativeHmac } from "./native-hmac.mjs";

/** @import { ErrorCode, EventType, KnownEvent, ThreeToneEvent } from "./core.mjs" */

// The core's constants and every type of the events and error codes.
export * from "./core.mjs";

/** @typedef {string | Uint8Array | ArrayBuffer | ArrayBufferView} RawBody The raw request body exactly as received: never a parsed object. */
/** @typedef {string | readonly string[]} Secret One secret, or several during rotation (the current one first). */
/** @typedef {string | null | undefined} Signature The `X-ThreeTone-Signature` header's value, if any. */

/**
 * For every call that takes a body.
 * @typedef {object} BodyOptions
 * @property {number} [maxBodyBytes] Refuse bodies of more bytes (a string's UTF-8) with `payload_too_large` (413),
 *   before they enter wasm memory, which never shrinks. No limit by default but what fits; 1 MiB for `verifyRequest` and the adapters.
 */

/**
 * @typedef {object} EventOptions
 * @property {number} [maxAgeSeconds] Reject events whose `timestamp` is older (or further ahead) than this. Off by default.
 * @property {Date | number} [now] The current time (a Date or seconds since the epoch); defaults to `Date.now()`.
 * @property {boolean} [allowUnknownEvents] Accept event types this version does not know. Default `true`.
 */

/** @typedef {BodyOptions & EventOptions} Options */
/** @typedef {Options & { allowUnknownEvents: false }} KnownOnly Options that reject unknown event types. */

/**
 * The offending field of an invalid payload.
 * @typedef {object} InvalidField
 * @property {string} path The JSON path of the offending field, such as `$.data.sentiment_analysis.sentiment_score`.
 * @property {string} expected What the field must hold, such as `a number in [-1, 1]`.
 * @property {string} found What was there instead, such as `integer 2` (`nothing` for a missing field).
 */

/** A webhook that must not be trusted: `code` is stable, `status` is what to answer. */
export class WebhookVerificationError extends Error {
  /** @readonly @type {"WebhookVerificationError"} */
  name = "WebhookVerificationError";

  /**
   * @param {ErrorCode} code
   * @param {string} message
   * @param {number} status
   * @param {InvalidField} [field] For `invalid_payload`: the offending field.
   */
  constructor(code, message, status, field) {
    super(message);
    /** Stable machine code. @readonly */
    this.code = code;
    /** The HTTP status a handler should answer with (401, 400, 413 for a body too large, or 503 when misconfigured). @readonly */
    this.status = status;
    /** For `invalid_payload`: the JSON path of the offending field. @readonly @type {string | undefined} */
    this.path;
    /** For `invalid_payload`: what the field must hold. @readonly @type {string | undefined} */
    this.expected;
    /** For `invalid_payload`: what was there instead. @readonly @type {string | undefined} */
    this.found;
    if (field !== undefined) Object.assign(this, { path: field.path, expected: field.expected, found: field.found });
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
/** @type {Input | null} */
let input = null;
/** @type {WebAssembly.Memory | null} */
let memory = null;
let memoryBytes = new Uint8Array(0);
// The header goes first, into a view kept while the buffer stays put: making
// a view costs as much as encoding a 71-byte header into it.
const HEADER_VIEW_BYTES = 256;
let headerView = memoryBytes.subarray(0, 0);
let headerViewStart = -1;
/** Byte lengths of what `place` last wrote: the header, the digests after it, the body after them. */
const placed = { header: 0, digests: 0, body: 0 };
/** Bytes of an HMAC-SHA256 digest. */
const DIGEST_BYTES = 32;

// A typed array's own length, read by the engine's getter: a subclass (or an
// own property) can make `length` and `byteLength` say anything, while `set`
// copies every real byte.
const TypedArray = Object.getPrototypeOf(Uint8Array);
/**
 * The engine's own getter of `name`.
 * @param {object} prototype
 * @param {PropertyKey} name
 * @returns {(this: unknown) => any}
 */
const intrinsic = (prototype, name) =>
  /** @type {(this: unknown) => any} */ (/** @type {PropertyDescriptor} */ (Object.getOwnPropertyDescriptor(prototype, name)).get);
const typedArrayTag = intrinsic(TypedArray.prototype, Symbol.toStringTag);
const typedArrayBuffer = intrinsic(TypedArray.prototype, "buffer");
const typedArrayOffset = intrinsic(TypedArray.prototype, "byteOffset");
const typedArrayLength = intrinsic(TypedArray.prototype, "byteLength");
const dataViewBuffer = intrinsic(DataView.prototype, "buffer");
const dataViewOffset = intrinsic(DataView.prototype, "byteOffset");
const dataViewLength = intrinsic(DataView.prototype, "byteLength");

/**
 * The UTF-8 length of `text` (lone surrogates become U+FFFD, 3 bytes, as TextEncoder writes them).
 * @param {string} text
 */
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
 * Writes `header`, then (given the verifier's `keys` for the runtime's HMAC)
 * the body's digests under each, then the raw body (unless `writeBody` is
 * false: the core then compares digests and reads no body) into the core's
 * input. A body over `maxBodyBytes`, or one that cannot fit in wasm memory,
 * throws the core's `payload_too_large` before anything is reserved for it
 * or hashed: room for the body is reserved even when it is not written, so
 * that every path gives the same answers.
 * @param {string} header
 * @param {string | Uint8Array} raw
 * @param {number} maxBodyBytes
 * @param {unknown[] | null} [keys]
 * @param {boolean} [writeBody]
 */
function place(header, raw, maxBodyBytes, keys = null, writeBody = true) {
  // A string takes at least 1 and at most 3 UTF-8 bytes per UTF-16 unit.
  const headerCapacity = Math.max(HEADER_VIEW_BYTES, header.length * 3);
  const digestBytes = keys === null ? 0 : keys.length * DIGEST_BYTES;
  const text = typeof raw === "string";
  const length = text ? raw.length : typedArrayLength.call(raw);
  input ??= new Input();
  if (length > maxBodyBytes) raise(Input.tooLarge(text ? utf8Length(raw) : length, maxBodyBytes));
  let bodyCapacity = text ? Math.min(length * 3, maxBodyBytes) : length;
  let start = input.reserve(headerCapacity + digestBytes + bodyCapacity);
  if (start === 0 && text) {
    // Three bytes a unit did not fit: what the text takes exactly may.
    bodyCapacity = utf8Length(raw);
    start = input.reserve(headerCapacity + digestBytes + bodyCapacity);
  }
  if (start === 0) raise(Input.tooLarge(bodyCapacity));
  // Growing wasm memory detaches every view of it.
  if (memoryBytes.byteLength === 0) memoryBytes = new Uint8Array((memory ??= wasmMemory()).buffer);
  if (start !== headerViewStart || headerView.byteLength === 0) {
    headerView = memoryBytes.subarray(start, start + HEADER_VIEW_BYTES);
    headerViewStart = start;
  }
  const headerBytes = headerCapacity === HEADER_VIEW_BYTES ? headerView : memoryBytes.subarray(start, start + headerCapacity);
  placed.header = header === "" ? 0 : utf8Encoder.encodeInto(header, headerBytes).written;
  let bodyStart = start + placed.header;
  placed.digests = digestBytes;
  if (keys !== null) {
    const hmac = /** @type {import("./native-hmac.mjs").NativeHmac} */ (nativeHmac);
    for (const key of keys) {
      memoryBytes.set(hmac.digest(key, raw), bodyStart);
      bodyStart += DIGEST_BYTES;
    }
  }
  if (!writeBody) {
    placed.body = 0;
  } else if (text) {
    const { read, written } = utf8Encoder.encodeInto(raw, memoryBytes.subarray(bodyStart, bodyStart + bodyCapacity));
    // Only a capacity cut to maxBodyBytes leaves text unwritten.
    if (read < raw.length) raise(Input.tooLarge(utf8Length(raw), maxBodyBytes));
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
 * @param {unknown} error
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

/**
 * The error a failure from the core describes (its error record, field by
 * field), releasing the failure.
 * @param {Failure} failure
 */
function errorOf(failure) {
  const { path, expected, found } = failure;
  const field = path === undefined || expected === undefined || found === undefined ? undefined : { path, expected, found };
  const error = new WebhookVerificationError(/** @type {ErrorCode} */ (failure.code), failure.message, failure.status, field);
  failure.free();
  return error;
}

/**
 * Throws the error a failure from the core describes.
 * @param {Failure} failure
 * @returns {never}
 */
function raise(failure) {
  throw errorOf(failure);
}

/**
 * The core's `payload_too_large` error (413) for a body of `length` bytes over
 * `maxBodyBytes`: for handlers that read bodies themselves (the adapters do).
 * @param {number} length
 * @param {number} maxBodyBytes
 * @returns {WebhookVerificationError}
 */
export function payloadTooLargeError(length, maxBodyBytes) {
  return errorOf(Input.tooLarge(length, maxBodyBytes));
}

/** @param {unknown} value */
function describe(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? `an object (${value.constructor?.name ?? "Object"})` : `a ${typeof value}`;
}

/**
 * The raw body as a string or bytes, or a TypeError that says how to fix the call.
 * @param {unknown} body
 * @param {string} caller
 * @returns {string | Uint8Array}
 */
function rawBody(body, caller) {
  if (typeof body === "string") return body;
  // Every view is taken as the engine sees it, whatever its own properties say.
  const tag = typedArrayTag.call(body);
  if (tag === "Uint8Array") return /** @type {Uint8Array} */ (body); // a Buffer too
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
/** @type {Map<string, Verifier>} */
const singleVerifiers = new Map();
/** @type {Map<string, Verifier>} */
const listVerifiers = new Map();
const VERIFIER_CACHE_SIZE = 16;

/**
 * @param {unknown} secret
 * @param {string} caller
 * @returns {string[]}
 */
function secretList(secret, caller) {
  const secrets = typeof secret === "string" ? [secret] : secret;
  if (!Array.isArray(secrets) || !secrets.every((item) => typeof item === "string")) {
    throw new TypeError(`${caller}: the secret must be a string or an array of strings, got ${describe(secret)}.`);
  }
  return /** @type {string[]} */ (secrets);
}

/**
 * @param {unknown} secret
 * @param {string} caller
 */
function verifierFor(secret, caller) {
  const single = typeof secret === "string";
  const cache = single ? singleVerifiers : listVerifiers;
  const key = single ? secret : JSON.stringify(secretList(secret, caller));
  let verifier = cache.get(key);
  if (verifier === undefined) {
    verifier = newVerifier(secretList(secret, caller), caller);
    if (cache.size >= VERIFIER_CACHE_SIZE) cache.delete(/** @type {string} */ (cache.keys().next().value));
    cache.set(key, verifier);
  }
  return verifier;
}

// Each verifier's keys for the runtime's HMAC, where it has one (native-hmac.mjs).
/** @type {WeakMap<Verifier, unknown[]>} */
const nativeKeys = new WeakMap();

/**
 * The verifier's keys when the runtime's HMAC should hash `raw` (a body of
 * at least its `minBodyBytes`; a string only when its UTF-8, 3 bytes a unit
 * at most, cannot exceed `maxBodyBytes`, which only writing it would tell),
 * else null: the core hashes it.
 * @param {Verifier} verifier
 * @param {string | Uint8Array} raw
 * @param {number} maxBodyBytes
 */
function nativeKeysFor(verifier, raw, maxBodyBytes) {
  if (nativeHmac === null) return null;
  const text = typeof raw === "string";
  const length = text ? raw.length : typedArrayLength.call(raw);
  if (length < nativeHmac.minBodyBytes || (text && length * 3 > maxBodyBytes)) return null;
  return nativeKeys.get(verifier) ?? null;
}

/**
 * @param {string[]} secrets
 * @param {string} caller
 */
function newVerifier(secrets, caller) {
  try {
    const verifier = new Verifier(secrets);
    if (nativeHmac !== null) nativeKeys.set(verifier, secrets.map(nativeHmac.key));
    return verifier;
  } catch (thrown) {
    if (!(thrown instanceof Failure)) throw thrown;
    const code = /** @type {ErrorCode} */ (thrown.code);
    const status = thrown.status;
    thrown.free();
    throw new WebhookVerificationError(
      code,
      `${caller}: ${code === "no_secret" ? "no webhook secret was given" : "the webhook secret is empty"}. ` +
        "Pass the secret configured in ThreeTone (for example process.env.THREETONE_WEBHOOK_SECRET) and check that it is set.",
      status,
    );
  }
}

/** @param {unknown} signature */
function headerValue(signature) {
  return typeof signature === "string" ? signature : "";
}

/**
 * `options.maxBodyBytes`, or `fallback` when not given.
 * @param {BodyOptions | undefined} options
 * @param {number} [fallback]
 */
function bodyLimit(options, fallback = Infinity) {
  const max = options?.maxBodyBytes;
  if (max === undefined) return fallback;
  if (typeof max !== "number" || !(max >= 0)) {
    const got = typeof max === "number" ? max : describe(max);
    throw new TypeError(`maxBodyBytes must be a number of bytes (0 or more, or Infinity), got ${got}.`);
  }
  return max;
}

/**
 * The core's options as its wasm calls take them; what is not given is the core's default.
 * @param {EventOptions} [options]
 * @returns {[number | undefined, number, boolean | undefined]}
 */
function optionArguments(options = {}) {
  const { maxAgeSeconds, now, allowUnknownEvents } = options;
  if (maxAgeSeconds == null) return [undefined, 0, allowUnknownEvents]; // the clock is read only for freshness
  return [maxAgeSeconds, secondsOf(now), allowUnknownEvents];
}

/**
 * Seconds since the epoch: of `now`, or of the clock.
 * @param {Date | number | undefined} now
 */
function secondsOf(now) {
  return now instanceof Date ? now.getTime() / 1000 : (now ?? Date.now() / 1000);
}

/**
 * The bytes (or text) of a body the core accepted, parsed by the runtime's own parser.
 * @param {string | Uint8Array} raw
 * @returns {ThreeToneEvent}
 */
function parsed(raw) {
  return JSON.parse(typeof raw === "string" ? raw : utf8.decode(raw));
}

// Each core call: the input placed, then the call, in one try, so that
// whatever throws (a trap in wasm included) leaves the next call working.

/** The input, after `place`. */
function placedInput() {
  return /** @type {Input} */ (input);
}

/**
 * @param {Verifier} verifier
 * @param {unknown} body
 * @param {Signature} signature
 * @param {number} maxBodyBytes
 */
function verifyWith(verifier, body, signature, maxBodyBytes) {
  const raw = rawBody(body, "verify");
  try {
    const keys = nativeKeysFor(verifier, raw, maxBodyBytes);
    // With the runtime's digests, the core needs no body.
    place(headerValue(signature), raw, maxBodyBytes, keys, keys === null);
    return keys === null
      ? verifier.verify(placedInput(), placed.header, placed.body)
      : verifier.verifyDigests(placedInput(), placed.header, placed.digests);
  } catch (error) {
    throw recover(error);
  }
}

/**
 * @param {Verifier} verifier
 * @param {unknown} body
 * @param {Signature} signature
 * @param {Options | undefined} options
 */
function constructWith(verifier, body, signature, options) {
  const raw = rawBody(body, "constructEvent");
  const maxBodyBytes = bodyLimit(options);
  let failure;
  try {
    const keys = nativeKeysFor(verifier, raw, maxBodyBytes);
    place(headerValue(signature), raw, maxBodyBytes, keys);
    const [maxAge, now, allowUnknown] = optionArguments(options);
    failure =
      keys === null
        ? verifier.verifyEvent(placedInput(), placed.header, placed.body, maxAge, now, allowUnknown)
        : verifier.verifyEventDigests(placedInput(), placed.header, placed.digests, placed.body, maxAge, now, allowUnknown);
  } catch (error) {
    throw recover(error);
  }
  if (failure !== undefined) raise(failure);
  return parsed(raw);
}

/**
 * @param {Verifier} verifier
 * @param {unknown} body
 * @param {number} maxBodyBytes
 */
function signWith(verifier, body, maxBodyBytes) {
  const raw = rawBody(body, "sign");
  try {
    place("", raw, maxBodyBytes);
    return verifier.sign(placedInput(), placed.body);
  } catch (error) {
    throw recover(error);
  }
}

/**
 * Whether `signature` is a valid signature of `body` under `secret` (or any of several).
 * @param {RawBody} body
 * @param {Signature} signature
 * @param {Secret} secret
 * @param {BodyOptions} [options]
 * @returns {boolean}
 */
export function verify(body, signature, secret, options) {
  const failure = verifyWith(verifierFor(secret, "verify"), body, signature, bodyLimit(options));
  if (failure === undefined) return true;
  failure.free();
  return false;
}

/**
 * Like `verify`, but throws a `WebhookVerificationError` saying what is wrong.
 * @param {RawBody} body
 * @param {Signature} signature
 * @param {Secret} secret
 * @param {BodyOptions} [options]
 * @returns {void}
 */
export function verifyOrThrow(body, signature, secret, options) {
  const failure = verifyWith(verifierFor(secret, "verifyOrThrow"), body, signature, bodyLimit(options));
  if (failure !== undefined) raise(failure);
}

/**
 * `sha256=<64 lowercase hex>` for `body` under `secret` (the first, if several).
 * @param {RawBody} body
 * @param {Secret} secret
 * @param {BodyOptions} [options]
 * @returns {string}
 */
export function sign(body, secret, options) {
  return signWith(verifierFor(secret, "sign"), body, bodyLimit(options));
}

/**
 * Verifies the signature, then parses and validates the event; an event of a type this version
 * does not know is refused (`unknown_event_type`). Throws `WebhookVerificationError`.
 * @overload
 * @param {RawBody} body
 * @param {Signature} signature
 * @param {Secret} secret
 * @param {KnownOnly} options
 * @returns {KnownEvent}
 */
/**
 * Verifies the signature, then parses and validates the event: one of the types this version
 * knows, or (the default) an unknown one, kept as sent. Throws `WebhookVerificationError`.
 * @overload
 * @param {RawBody} body
 * @param {Signature} signature
 * @param {Secret} secret
 * @param {Options} [options]
 * @returns {ThreeToneEvent}
 */
/**
 * @param {RawBody} body
 * @param {Signature} signature
 * @param {Secret} secret
 * @param {Options} [options]
 * @returns {ThreeToneEvent}
 */
export function constructEvent(body, signature, secret, options) {
  return constructWith(verifierFor(secret, "constructEvent"), body, signature, options);
}

/**
 * Parses and validates an event whose authenticity is already established; an event of a type
 * this version does not know is refused (`unknown_event_type`).
 * @overload
 * @param {RawBody} body
 * @param {KnownOnly} options
 * @returns {KnownEvent}
 */
/**
 * Parses and validates an event whose authenticity is already established: one of the types this
 * version knows, or (the default) an unknown one, kept as sent.
 * @overload
 * @param {RawBody} body
 * @param {Options} [options]
 * @returns {ThreeToneEvent}
 */
/**
 * @param {RawBody} body
 * @param {Options} [options]
 * @returns {ThreeToneEvent}
 */
export function parseEvent(body, options) {
  const raw = rawBody(body, "parseEvent");
  const maxBodyBytes = bodyLimit(options);
  let failure;
  try {
    place("", raw, maxBodyBytes);
    failure = validateEvent(placedInput(), placed.body, ...optionArguments(options));
  } catch (error) {
    throw recover(error);
  }
  if (failure !== undefined) raise(failure);
  return parsed(raw);
}

/**
 * Whether `event` is of a type this version knows: narrows a `ThreeToneEvent` to a `KnownEvent`,
 * whose `event` then tells its type.
 * @param {ThreeToneEvent} event
 * @returns {event is KnownEvent}
 */
export function isKnownEvent(event) {
  return /** @type {readonly string[]} */ (EVENT_TYPES).includes(event.event);
}

/**
 * The options a Webhook was made with (set by the class).
 * @type {(webhook: Webhook) => Options | undefined}
 */
let webhookOptions;

/** A receiver bound to its secrets (prepared once) and default options. */
export class Webhook {
  #verifier;
  /** @type {Options | undefined} */
  #options;
  #maxBodyBytes;

  /**
   * @param {Secret} secret
   * @param {Options} [options]
   */
  constructor(secret, options) {
    this.#verifier = newVerifier(secretList(secret, "new Webhook"), "new Webhook");
    this.#options = options;
    this.#maxBodyBytes = bodyLimit(options);
  }

  /**
   * @param {RawBody} body
   * @param {Signature} signature
   * @returns {boolean}
   */
  verify(body, signature) {
    const failure = verifyWith(this.#verifier, body, signature, this.#maxBodyBytes);
    if (failure === undefined) return true;
    failure.free();
    return false;
  }

  /**
   * @param {RawBody} body
   * @param {Signature} signature
   * @returns {void}
   */
  verifyOrThrow(body, signature) {
    const failure = verifyWith(this.#verifier, body, signature, this.#maxBodyBytes);
    if (failure !== undefined) raise(failure);
  }

  /**
   * With the Webhook's options unless others are given.
   * @overload
   * @param {RawBody} body
   * @param {Signature} signature
   * @param {KnownOnly} options
   * @returns {KnownEvent}
   */
  /**
   * With the Webhook's options unless others are given.
   * @overload
   * @param {RawBody} body
   * @param {Signature} signature
   * @param {Options} [options]
   * @returns {ThreeToneEvent}
   */
  /**
   * @param {RawBody} body
   * @param {Signature} signature
   * @param {Options} [options]
   * @returns {ThreeToneEvent}
   */
  constructEvent(body, signature, options) {
    return constructWith(this.#verifier, body, signature, options ?? this.#options);
  }

  /**
   * @param {RawBody} body
   * @returns {string}
   */
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
 * @overload
 * @param {Request} request
 * @param {Secret | Webhook} secret
 * @param {KnownOnly} options
 * @returns {Promise<KnownEvent>}
 */
/**
 * Reads a Fetch API Request's raw body and header, then `constructEvent`.
 * The body is read only up to `maxBodyBytes` (default 1 MiB); a declared
 * Content-Length over it is refused before reading.
 * @overload
 * @param {Request} request
 * @param {Secret | Webhook} secret
 * @param {Options} [options]
 * @returns {Promise<ThreeToneEvent>}
 */
/**
 * @param {Request} request
 * @param {Secret | Webhook} secret
 * @param {Options} [options]
 * @returns {Promise<ThreeToneEvent>}
 */
export async function verifyRequest(request, secret, options) {
  if (typeof request?.arrayBuffer !== "function" || typeof request?.headers?.get !== "function") {
    throw new TypeError(`verifyRequest: expected a Fetch API Request, got ${describe(request)}.`);
  }
  const webhook = secret instanceof Webhook ? secret : undefined;
  const verifier = secret instanceof Webhook ? undefined : verifierFor(secret, "verifyRequest");
  const effective = options ?? (webhook && webhookOptions(webhook));
  const maxBodyBytes = bodyLimit(effective, DEFAULT_MAX_BODY_BYTES);
  const declared = declaredLength(request.headers.get("content-length"));
  if (declared > maxBodyBytes) throw payloadTooLargeError(declared, maxBodyBytes);
  if (request.bodyUsed) throw new TypeError("verifyRequest: the request body was already read; pass the request before anything reads it.");
  /** @type {import("./http.mjs").BodyRead} */
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
  return verifier === undefined
    ? /** @type {Webhook} */ (webhook).constructEvent(read.body, signature, limited)
    : constructWith(verifier, read.body, signature, limited);
}

/**
 * @param {Record<string, unknown>} target
 * @param {Record<string, unknown>} overrides
 * @returns {Record<string, unknown>}
 */
function merge(target, overrides) {
  for (const [key, value] of Object.entries(overrides)) {
    const nested = value !== null && typeof value === "object" && !Array.isArray(value);
    const current = target[key];
    target[key] =
      nested && current !== null && typeof current === "object"
        ? merge({ .../** @type {Record<string, unknown>} */ (current) }, /** @type {Record<string, unknown>} */ (value))
        : value;
  }
  return target;
}

/**
 * @typedef {object} TestEventOptions
 * @property {Secret} [secret] Sign the body (adds the signature header).
 * @property {Record<string, unknown>} [overrides] Merged (deeply) into the sample event.
 * @property {Date | number} [now] The event's timestamp; defaults to now.
 * @property {string} [id] Woven into the sample's identifiers; random by default.
 */

/**
 * A realistic sample event of `type` (the core's sample), with the headers ThreeTone would send.
 * @param {EventType} type
 * @param {TestEventOptions} [options]
 * @returns {{ body: string, headers: Record<string, string> }}
 */
export function generateTestEvent(type, { secret, overrides, now, id } = {}) {
  if (!(/** @type {readonly string[]} */ (EVENT_TYPES).includes(type))) {
    throw new TypeError(`generateTestEvent: unknown event type ${JSON.stringify(type)}; expected one of ${EVENT_TYPES.join(", ")}.`);
  }
  const seconds = Math.floor(secondsOf(now));
  const sample = Number.isFinite(seconds) ? sampleEvent(type, seconds, String(id ?? Math.random().toString(16).slice(2, 10))) : undefined;
  if (sample === undefined) throw new RangeError("generateTestEvent: `now` must fall in the years 0 to 9999.");
  const body = overrides === undefined ? sample : JSON.stringify(merge(JSON.parse(sample), overrides));
  /** @type {Record<string, string>} */
  const headers = { "content-type": "application/json" };
  if (secret !== undefined) headers[SIGNATURE_HEADER.toLowerCase()] = sign(body, secret);
  return { body, headers };
}

import type { ThreeToneEvent } from "./events.js";

export type * from "./events.js";

/** The raw request body exactly as received: never a parsed object. */
export type RawBody = string | Uint8Array | ArrayBuffer;

/** One secret, or several during rotation (the current one first). */
export type Secret = string | readonly string[];

/** The event types ThreeTone documents. */
export type EventType = ThreeToneEvent["event"];

/** For every call that takes a body. */
export interface BodyOptions {
  /**
   * Refuse bodies of more bytes (a string's UTF-8) with `payload_too_large` (413), before they enter
   * wasm memory, which never shrinks. No limit by default but what fits; 1 MiB for `verifyRequest` and the adapters.
   */
  maxBodyBytes?: number;
}

export interface Options extends BodyOptions {
  /** Reject events whose `timestamp` is older (or further ahead) than this. Off by default. */
  maxAgeSeconds?: number;
  /** The current time (a Date or seconds since the epoch); defaults to `Date.now()`. */
  now?: Date | number;
  /** Accept event types this version does not know. Default `true`. */
  allowUnknownEvents?: boolean;
}

/** Stable machine codes, the same in every runtime. */
export type ErrorCode =
  | "missing_signature"
  | "unknown_signature_scheme"
  | "invalid_signature_length"
  | "invalid_signature_hex"
  | "signature_mismatch"
  | "empty_secret"
  | "no_secret"
  | "invalid_json"
  | "invalid_payload"
  | "payload_too_large"
  | "unknown_event_type"
  | "timestamp_too_old"
  | "timestamp_in_future";

/** A webhook that must not be trusted. */
export declare class WebhookVerificationError extends Error {
  readonly name: "WebhookVerificationError";
  /** Stable machine code. */
  readonly code: ErrorCode;
  /** The HTTP status a handler should answer with (401, 400, 413 for a body too large, or 503 when misconfigured). */
  readonly status: number;
  /** For `invalid_payload`: the JSON path of the offending field. */
  readonly path?: string;
}

/** Name of the header that carries the signature. */
export declare const SIGNATURE_HEADER: "X-ThreeTone-Signature";

/** The twelve event types, in the documentation's order. */
export declare const EVENT_TYPES: readonly EventType[];

/** Whether `signature` is a valid signature of `body` under `secret` (or any of several). */
export declare function verify(body: RawBody, signature: string | null | undefined, secret: Secret, options?: BodyOptions): boolean;

/** Like `verify`, but throws a `WebhookVerificationError` saying what is wrong. */
export declare function verifyOrThrow(body: RawBody, signature: string | null | undefined, secret: Secret, options?: BodyOptions): void;

/** `sha256=<64 lowercase hex>` for `body` under `secret` (the first, if several). */
export declare function sign(body: RawBody, secret: Secret, options?: BodyOptions): string;

/** Verifies the signature, then parses and validates the event. Throws `WebhookVerificationError`. */
export declare function constructEvent(
  body: RawBody,
  signature: string | null | undefined,
  secret: Secret,
  options?: Options,
): ThreeToneEvent;

/** Parses and validates an event whose authenticity is already established. */
export declare function parseEvent(body: RawBody, options?: Options): ThreeToneEvent;

/** A receiver bound to its secrets (prepared once) and default options. */
export declare class Webhook {
  constructor(secret: Secret, options?: Options);
  verify(body: RawBody, signature: string | null | undefined): boolean;
  verifyOrThrow(body: RawBody, signature: string | null | undefined): void;
  constructEvent(body: RawBody, signature: string | null | undefined, options?: Options): ThreeToneEvent;
  sign(body: RawBody): string;
}

/**
 * Reads a Fetch API `Request`'s raw body and signature header, then `constructEvent`. The body is read
 * up to `maxBodyBytes` (default 1 MiB; a declared Content-Length over it is refused unread).
 */
export declare function verifyRequest(request: Request, secret: Secret | Webhook, options?: Options): Promise<ThreeToneEvent>;

/** The `payload_too_large` error (413) for a body of `length` bytes over `maxBodyBytes`, for handlers that read bodies themselves. */
export declare function payloadTooLargeError(length: number, maxBodyBytes: number): WebhookVerificationError;

export interface TestEventOptions {
  /** Sign the body (adds the signature header). */
  secret?: Secret;
  /** Merged (deeply) into the sample event. */
  overrides?: Record<string, unknown>;
  /** The event's timestamp; defaults to now. */
  now?: Date | number;
  /** Woven into the sample's identifiers; random by default. */
  id?: string;
}

/** A realistic sample event of `type`, with the headers ThreeTone would send. */
export declare function generateTestEvent(
  type: EventType,
  options?: TestEventOptions,
): { body: string; headers: Record<string, string> };

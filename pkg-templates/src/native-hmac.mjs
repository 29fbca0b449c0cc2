// Where the runtime has a synchronous HMAC-SHA256 of its own that uses the
// CPU's SHA extensions (node:crypto in Node, Bun and Deno), the entries for
// those runtimes register it here (./entries/hmac-node.mjs), and api.mjs
// hashes bodies of at least `minBodyBytes` with it instead of in wasm, which
// cannot use those instructions. Only the digests cross into the core, which
// parses the header and compares them (Verifier::verify_digests): the rule
// stays the core's. No imports: it loads in every runtime, and stays unset
// in browsers and workerd.

/**
 * @typedef {object} NativeHmac
 * @property {string} name What computes the digests, for the benchmark's rows.
 * @property {number} minBodyBytes Bodies of at least this many bytes (UTF-16 units for a string) are hashed here.
 * @property {(secret: string) => unknown} key A secret's key, prepared once per verifier.
 * @property {(key: unknown, body: string | Uint8Array) => Uint8Array} digest The 32-byte HMAC-SHA256 of `body`
 *   (a string as its UTF-8, lone surrogates as U+FFFD, as TextEncoder writes it).
 */

/** @type {NativeHmac | null} */
export let nativeHmac = null;

/**
 * Registers the runtime's HMAC (done once, by an entry, before any call).
 * @param {NativeHmac | null} hmac
 */
export function setNativeHmac(hmac) {
  nativeHmac = hmac;
}

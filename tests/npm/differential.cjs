// Differential test of the native HMAC path (node:crypto's HMAC for bodies
// from the crossover up, the digests compared by the core) against the wasm
// path: every call gives the same answer, error for error, through both, on
// the shared vectors and on seeded random bodies at sizes around the
// crossovers, for verify, verifyOrThrow, constructEvent and the Webhook
// class, with one secret and with several. The runners say how a call goes
// through each path: `fast(call)` runs `call(api)` as the package ships,
// `wasm(call)` with hashing in wasm only (differential.mjs moves the
// package's own crossover; differential-cjs.cjs compares the CommonJS bundle
// with a second, ES module instance that registered no native HMAC).
// CommonJS, for both.

"use strict";

const hexToBytes = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
const utf8 = (text) => new TextEncoder().encode(text);

/** A seeded PRNG (mulberry32): the same bodies on every run of a seed. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** What a call gave: its value, or its error (code, status, message, and the field for invalid_payload). */
function outcome(fn) {
  try {
    const value = fn();
    return JSON.stringify({ value: value === undefined ? "undefined" : value });
  } catch (error) {
    const { name, code, status, message, path, expected, found } = error;
    return JSON.stringify({ name, code, status, message, path, expected, found });
  }
}

/** A valid `system_error` event of `size` bytes (at least 190), as the benchmark builds them. */
function eventOfSize(size, message = "x") {
  const frame = (text) =>
    `{"event":"system_error","timestamp":"2024-01-15T10:35:00Z","data":{"error_code":"asr_unavailable","severity":"high","component":"speech_to_text","call_id":"call_abc123","error_message":"${text}"}}`;
  return frame(message.repeat(Math.max(0, size - frame("").length)).slice(0, Math.max(0, size - frame("").length)));
}

/**
 * Runs every case through `fast` and `wasm`; resolves to `{ passed, failed, failures }`.
 * `crossovers`: the body sizes around which to look (every runtime's crossover).
 */
module.exports = async function differential(fast, wasm, vectors, { crossovers, seed = 20261202 }) {
  const results = { passed: 0, failed: 0, failures: [] };
  const reference = { sign: (body, secret) => wasm((api) => api.sign(body, secret)) };
  const same = (name, call) => {
    const got = outcome(() => fast(call));
    const expected = outcome(() => wasm(call));
    if (got === expected) results.passed += 1;
    else {
      results.failed += 1;
      if (results.failures.length < 20) results.failures.push(`${name}: ${got} where the wasm path gives ${expected}`);
    }
  };
  const next = random(seed);
  const integer = (below) => Math.floor(next() * below);

  // The shared vectors: signatures (string secrets), every header case, every payload case signed.
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (const vector of vectors.signatures.vectors) {
    let secret;
    try {
      secret = decoder.decode(hexToBytes(vector.secret_hex));
    } catch {
      continue;
    }
    const body = hexToBytes(vector.body_hex);
    same(`vector ${vector.name}`, (api) => api.verify(body, vector.signature, secret));
    same(`vector ${vector.name}, other body`, (api) => api.verify(new Uint8Array([...body, 32]), vector.signature, secret));
  }
  const { headers } = vectors;
  for (const item of headers.cases) {
    same(`header ${item.name}`, (api) => api.verifyOrThrow(headers.body, item.header, headers.secret));
  }
  for (const item of vectors.payloads.cases) {
    const signature = reference.sign(item.body, "whsec_payloads");
    same(`payload ${item.name}`, (api) => api.constructEvent(item.body, signature, "whsec_payloads"));
    same(`payload ${item.name}, forged`, (api) => api.constructEvent(item.body, signature.replace(/.$/, (c) => (c === "0" ? "1" : "0")), "whsec_payloads"));
  }

  // Random bodies at sizes around each crossover (and a few far from them).
  const sizes = new Set([0, 1, 64, 255, 256, 1024, 8192, 64 * 1024, 300 * 1024]);
  for (const crossover of crossovers) {
    for (let delta = -40; delta <= 40; delta += 1 + integer(6)) sizes.add(Math.max(0, crossover + delta));
    for (const delta of [-1, 0, 1]) sizes.add(Math.max(0, crossover + delta));
  }
  const secretSets = [["whsec_single"], ["whsec_new", "whsec_old"], ["\u00e9\u65e5\u{1f600}", "lone \ud800 surrogate", "whsec_third"]];
  const alphabet = ["a", "Z", " ", "\u00e9", "\u65e5", "\u{1f600}", "\ud800", "\udc00", "\n", '"'];
  for (const size of [...sizes].sort((a, b) => a - b)) {
    const bytes = Uint8Array.from({ length: size }, () => integer(256));
    let text = "";
    while (text.length < size) text += alphabet[integer(alphabet.length)];
    text = text.slice(0, size);
    const textBytes = utf8(text).length;
    for (const secrets of secretSets) {
      const signer = secrets[integer(secrets.length)];
      for (const [kind, body, bodyBytes] of [["bytes", bytes, size], ["string", text, textBytes], ["ArrayBuffer", bytes.slice().buffer, size]]) {
        const valid = reference.sign(body, signer);
        const wrong = valid.replace(/.$/, (c) => (c === "0" ? "1" : "0"));
        const signatures = { valid, wrong, upper: valid.toUpperCase().replace("SHA256", "sha256"), padded: ` ${valid}\t`, short: valid.slice(0, -2), none: undefined };
        for (const [label, signature] of Object.entries(signatures)) {
          const name = `${kind} of ${size} B, secret ${secrets.indexOf(signer) + 1} of ${secrets.length}, ${label} signature`;
          same(name, (api) => api.verify(body, signature, secrets));
          same(`${name}, verifyOrThrow`, (api) => api.verifyOrThrow(body, signature, secrets));
          same(`${name}, Webhook`, (api) => new api.Webhook(secrets).verify(body, signature));
        }
        // Limits at the body's own length: one byte less is payload_too_large on both paths.
        for (const maxBodyBytes of [bodyBytes, bodyBytes - 1, 3 * size]) {
          if (maxBodyBytes < 0) continue;
          same(`${kind} of ${size} B, maxBodyBytes ${maxBodyBytes}`, (api) => api.verify(body, valid, secrets, { maxBodyBytes }));
        }
      }
    }
    // Events of about this size through constructEvent: valid, forged, invalid, stale, unknown.
    if (size >= 200) {
      const event = eventOfSize(size, alphabet[integer(4)]);
      const secrets = secretSets[integer(secretSets.length)];
      const signature = reference.sign(event, secrets.at(-1));
      const invalid = event.replace('"severity":"high"', '"severity":"apocalyptic"');
      const unknown = event.replace('"system_error"', '"system_overload"');
      const cases = {
        valid: [event, signature, {}],
        "valid bytes": [utf8(event), signature, {}],
        forged: [event, reference.sign(event, "not one of them"), {}],
        invalid: [invalid, reference.sign(invalid, secrets[0]), {}],
        stale: [event, signature, { maxAgeSeconds: 300, now: 1_800_000_000 }],
        "unknown, refused": [unknown, reference.sign(unknown, secrets[0]), { allowUnknownEvents: false }],
        "one byte over the limit": [event, signature, { maxBodyBytes: utf8(event).length - 1 }],
      };
      for (const [label, [body, header, options]] of Object.entries(cases)) {
        same(`constructEvent of ${size} B, ${label}`, (api) => api.constructEvent(body, header, secrets, options));
        same(`Webhook.constructEvent of ${size} B, ${label}`, (api) => new api.Webhook(secrets, options).constructEvent(body, header));
      }
    }
  }
  return results;
};

/**
 * Both paths through one instance of the package: `native` is its internal
 * native-hmac.mjs, whose registered HMAC (counted) is kept for `fast` and
 * given an infinite crossover for `wasm`. `digests()` counts the native
 * digests computed so far.
 */
module.exports.throughCrossover = function throughCrossover(lib, native) {
  const shipped = native.nativeHmac;
  let digests = 0;
  const counting = { ...shipped, digest: (key, body) => (digests++, shipped.digest(key, body)) };
  const through = (hmac, call) => {
    native.setNativeHmac(hmac);
    try {
      return call(lib);
    } finally {
      native.setNativeHmac(shipped);
    }
  };
  return {
    fast: (call) => through(counting, call),
    wasm: (call) => through({ ...shipped, minBodyBytes: Infinity }, call),
    digests: () => digests,
  };
};

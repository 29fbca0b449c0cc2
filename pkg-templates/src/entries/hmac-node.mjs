// Node, Bun and Deno: node:crypto's HMAC-SHA256 (OpenSSL, BoringSSL, Rust's
// sha2: each with the CPU's SHA extensions) for bodies from the measured
// crossover up, where it beats SHA-256 in wasm (BENCHMARKS.md, "Round five,
// part 2"). The header, the comparison and rotation stay the core's.
import { createHmac, createSecretKey } from "node:crypto";
import { setNativeHmac } from "../native-hmac.mjs";

/**
 * The smallest body (bytes) hashed by node:crypto, per runtime: where its
 * HMAC and a call into the core to compare beat the core's own hashing
 * (BENCHMARKS.md, "Round five, part 2", the crossover table).
 */
export const CROSSOVER_BYTES = { node: 1536, bun: 0, deno: 12288 };

const runtime = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node";
const encoder = new TextEncoder();

setNativeHmac({
  name: "node:crypto createHmac",
  minBodyBytes: CROSSOVER_BYTES[runtime],
  // The secret's UTF-8 as the core takes it (lone surrogates as U+FFFD).
  key: (secret) => createSecretKey(encoder.encode(secret)),
  digest: (key, body) => createHmac("sha256", /** @type {import("node:crypto").KeyObject} */ (key)).update(body).digest(),
});

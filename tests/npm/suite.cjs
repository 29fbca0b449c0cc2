// The shared suite: the same vectors and cases in every runtime the package
// claims (Node ESM and CommonJS, Node 22, Deno, Bun, workerd, Chromium).
// CommonJS so that every runtime and bundler can load it. Runners pass the
// package, the vectors (tests/vectors/*.json) and a peer signer: Web Crypto's
// HMAC, an implementation independent of ours, present in every runtime.

"use strict";

const hexToBytes = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
const utf8 = (text) => new TextEncoder().encode(text);
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function decodeOrNull(bytes) {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

function deepEqual(a, b) {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortKeys(value[key])]));
  }
  return value;
}

function codeOf(fn) {
  try {
    fn();
    return null;
  } catch (error) {
    return error.code ?? `${error.name}: ${error.message}`;
  }
}

/** Runs every case; resolves to `{ passed, failed, failures }`. */
module.exports = async function runSuite(lib, vectors, peerSign) {
  const results = { passed: 0, failed: 0, failures: [] };
  const check = (name, ok, detail = "") => {
    if (ok) results.passed += 1;
    else {
      results.failed += 1;
      results.failures.push(`${name}${detail ? `: ${detail}` : ""}`);
    }
  };

  // Known-answer vectors (made by Python's hmac). The API takes secrets as
  // strings (as ThreeTone configures them): vectors whose key is not UTF-8
  // (RFC 4231 cases with 0xaa keys) are covered by the Rust suite.
  const applicable = vectors.signatures.vectors.filter((vector) => decodeOrNull(hexToBytes(vector.secret_hex)) !== null);
  check("at least 16 vectors have string secrets", applicable.length >= 16, String(applicable.length));
  for (const vector of applicable) {
    const secret = decodeOrNull(hexToBytes(vector.secret_hex));
    const body = hexToBytes(vector.body_hex);
    check(`sign ${vector.name}`, lib.sign(body, secret) === vector.signature, lib.sign(body, secret));
    check(`verify bytes ${vector.name}`, lib.verify(body, vector.signature, secret));
    check(`verify ArrayBuffer ${vector.name}`, lib.verify(body.slice().buffer, vector.signature, secret));
    const text = decodeOrNull(body);
    if (text !== null) check(`verify string ${vector.name}`, lib.verify(text, vector.signature, secret));
    check(`reject other body ${vector.name}`, !lib.verify(new Uint8Array([...body, 32]), vector.signature, secret));
  }

  // The core's catalog (generated): every code's status, the event types.
  const statusOf = Object.fromEntries(vectors.catalog.error_codes.map(({ code, status }) => [code, status]));
  const checkCode = (name, error) => check(`${name}: ${error.code} is the catalog's, with its status`, statusOf[error.code] === error.status, `${error.code} ${error.status}`);

  // Every header case, with its code.
  const headers = vectors.headers;
  for (const item of headers.cases) {
    const code = codeOf(() => lib.verifyOrThrow(headers.body, item.header, headers.secret));
    check(`header ${item.name}`, code === item.code, `got ${code}`);
    if (item.code !== null) {
      try {
        lib.verifyOrThrow(headers.body, item.header, headers.secret);
      } catch (error) {
        checkCode(`header ${item.name}`, error);
      }
    }
    check(`verify() agrees on ${item.name}`, lib.verify(headers.body, item.header, headers.secret) === (item.code === null));
  }
  check("null signature is missing_signature", codeOf(() => lib.verifyOrThrow("x", null, "s")) === "missing_signature");

  // Payload cases: accepted with the same JSON, or rejected with code, path,
  // what was expected and what was found.
  for (const item of vectors.payloads.cases) {
    try {
      const event = lib.parseEvent(item.body);
      check(`payload ${item.name}`, item.code === null && event.event === item.event, `accepted as ${event.event}`);
      if (item.code === null) check(`payload ${item.name} is lossless`, deepEqual(event, JSON.parse(item.body)));
    } catch (error) {
      check(`payload ${item.name}`, error.code === item.code, `got ${error.code ?? error}`);
      if (item.path) {
        check(`payload ${item.name} path`, error.path === item.path, `got ${error.path}`);
        check(`payload ${item.name} says what it expected and found`, error.expected?.length > 0 && error.found?.length > 0, `${error.expected} / ${error.found}`);
        check(`payload ${item.name} message`, error.message === `invalid payload at ${error.path}: expected ${error.expected}, found ${error.found}`, error.message);
      } else {
        check(`payload ${item.name} has no field`, !("path" in error) && !("expected" in error) && !("found" in error));
      }
      for (const key of ["expected", "found"]) {
        if (item[key] !== undefined) check(`payload ${item.name} ${key}`, error[key] === item[key], `got ${error[key]}`);
      }
      check(`payload ${item.name} status`, error.status === 400, String(error.status));
      checkCode(`payload ${item.name}`, error);
      check(`payload ${item.name} is a WebhookVerificationError`, error instanceof lib.WebhookVerificationError);
    }
  }

  // The validator scans strings 16 bytes at a time (WebAssembly SIMD): every
  // byte that ends a plain run, at every place in the first three blocks of
  // a string that is captured (call_id) and of one that is skipped.
  const inserts = {
    valid: ['\\"', "\\\\", "\\n", "\\u00e9", "\\ud83d\\ude00", "/", "\u00e9", "\u65e5", "\u{1f600}", "\u007f"].map(utf8),
    invalid: [[0x01], [0x09], [0x1f], [0x22], [0x5c], [0xff], [0xc3, 0x78], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]],
  };
  const agentBusy = (callId, note) =>
    new Uint8Array([...utf8('{"event":"agent_busy","timestamp":"2024-01-15T10:30:00Z","data":{"call_id":"'), ...callId, ...utf8('","note":"'), ...note, ...utf8('"}}')]);
  let scanFailures = 0;
  for (let at = 0; at <= 40; at++) {
    const plain = (insert) => [...utf8("x".repeat(at)), ...insert, ...utf8("y".repeat(40 - at))];
    for (const [validity, list] of Object.entries(inserts)) {
      for (const insert of list) {
        for (const body of [agentBusy(plain(insert), utf8("n")), agentBusy(utf8("c"), plain(insert))]) {
          const expected = validity === "valid" ? JSON.parse(strictUtf8.decode(body)).data : "invalid_json";
          const got = (() => {
            try {
              return lib.parseEvent(body).data;
            } catch (error) {
              return error.code;
            }
          })();
          if (!deepEqual(got, expected)) scanFailures += 1;
        }
      }
    }
  }
  check("the string scan finds every special byte at every offset", scanFailures === 0, `${scanFailures} cases wrong`);

  // Inputs go into one reused buffer in wasm memory: a body that makes wasm
  // memory grow (and moves the buffer), then small ones again, as bytes and
  // as a string with multi-byte characters.
  for (const size of [64, 4 * 1024 * 1024, 16, 300 * 1024, 64]) {
    const text = "\u00e9\u65e5x".repeat(Math.ceil(size / 3)).slice(0, size);
    const bytes = utf8(text);
    const signature = await peerSign("grow", bytes);
    check(`a ${size}-character body verifies as bytes and as a string`, lib.verify(bytes, signature, "grow") && lib.verify(text, signature, "grow"));
    check(`a ${size}-character body signs as the peer does`, lib.sign(text, "grow") === signature);
    check(`a ${size}-character body with a wrong signature fails`, !lib.verify(text, signature.replace(/.$/, (c) => (c === "0" ? "1" : "0")), "grow"));
  }

  // The seed's four payloads, signed by the peer, through constructEvent.
  for (const [name, text] of Object.entries(vectors.seeds)) {
    const signature = await peerSign("whsec_seed", utf8(text));
    const event = lib.constructEvent(text, signature, "whsec_seed");
    check(`seed ${name}`, event.event === name && deepEqual(event, JSON.parse(text)));
    check(`seed ${name} as bytes`, lib.constructEvent(utf8(text), signature, "whsec_seed").event === name);
    check(`seed ${name} agrees with the peer`, lib.sign(text, "whsec_seed") === signature);
  }

  // Rotation, through the Webhook class and the functions.
  const webhook = new lib.Webhook(["new_secret", "old_secret"]);
  for (const secret of ["new_secret", "old_secret"]) {
    const signature = await peerSign(secret, utf8("rotated"));
    check(`rotation accepts ${secret}`, webhook.verify("rotated", signature) && lib.verify("rotated", signature, ["new_secret", "old_secret"]));
  }
  check("rotation rejects others", !webhook.verify("rotated", await peerSign("other", utf8("rotated"))));
  check("Webhook signs with the first secret", webhook.sign("x") === lib.sign("x", "new_secret"));

  // Misuse: clear errors.
  const sample = lib.generateTestEvent("call_ended", { secret: "k" });
  const misuse = (() => {
    try {
      lib.constructEvent(JSON.parse(sample.body), sample.headers["x-threetone-signature"], "k");
    } catch (error) {
      return error;
    }
  })();
  check("a parsed object is a TypeError that says to pass the raw body", misuse instanceof TypeError && /raw request body/.test(misuse.message));
  check("an empty secret says so", codeOf(() => lib.verify("x", "sha256=00", "")) === "empty_secret");
  for (const secret of ["", []]) {
    try {
      lib.verify("x", "sha256=00", secret);
    } catch (error) {
      checkCode(`secret ${JSON.stringify(secret)}`, error);
    }
  }
  check("no secret says so", codeOf(() => lib.verify("x", "sha256=00", [])) === "no_secret");
  check("a non-string secret is a TypeError", codeOf(() => lib.sign("x", 42)).startsWith("TypeError"));

  // Options.
  const stale = lib.generateTestEvent("call_started", { secret: "k", now: new Date("2024-01-15T10:30:00Z") });
  const staleSignature = stale.headers["x-threetone-signature"];
  check("freshness off by default", lib.constructEvent(stale.body, staleSignature, "k").event === "call_started");
  check("maxAgeSeconds rejects old events", codeOf(() => lib.constructEvent(stale.body, staleSignature, "k", { maxAgeSeconds: 300 })) === "timestamp_too_old");
  check("now can be given", lib.constructEvent(stale.body, staleSignature, "k", { maxAgeSeconds: 300, now: 1705314700 }).event === "call_started");
  const unknown = '{"event":"call_recording_ready","timestamp":"2024-01-15T10:30:00Z","data":{}}';
  check("unknown events accepted by default", lib.parseEvent(unknown).event === "call_recording_ready");
  check("unknown events rejected on request", codeOf(() => lib.parseEvent(unknown, { allowUnknownEvents: false })) === "unknown_event_type");

  // Constants, samples of every type, and the Fetch API helper.
  check("SIGNATURE_HEADER", lib.SIGNATURE_HEADER === "X-ThreeTone-Signature");
  const catalogTypes = vectors.catalog.event_types.map(({ name }) => name);
  check("EVENT_TYPES are the catalog's", deepEqual(lib.EVENT_TYPES, catalogTypes) && Object.isFrozen(lib.EVENT_TYPES), String(lib.EVENT_TYPES));
  check("every code of the catalog has its status", vectors.catalog.error_codes.length > 0 && Object.values(statusOf).every((status) => [400, 401, 413, 503].includes(status)));
  check("isKnownEvent", lib.isKnownEvent(JSON.parse(sample.body)) && !lib.isKnownEvent(JSON.parse(unknown)));
  for (const type of lib.EVENT_TYPES) {
    const test = lib.generateTestEvent(type, { secret: "k", overrides: { data: { extra_field: 1 } } });
    const event = lib.constructEvent(test.body, test.headers["x-threetone-signature"], "k", { allowUnknownEvents: false });
    check(`generateTestEvent ${type}`, event.event === type && event.data.extra_field === 1);
  }
  const hostileId = 'q"uote\\ @#$& $1 é\n';
  const filled = JSON.parse(lib.generateTestEvent("agent_busy", { id: hostileId, now: 1705314600.9 }).body);
  check(
    "generateTestEvent fills the core's template: whole seconds, the id escaped and taken literally",
    filled.event === "agent_busy" && filled.timestamp === "2024-01-15T10:30:00Z" && filled.data.call_id === `call_${hostileId}` && filled.data.agent_id === `agent_${hostileId}`,
  );
  check("generateTestEvent rejects unknown types", codeOf(() => lib.generateTestEvent("nope")).startsWith("TypeError"));
  const request = new Request("https://example.test/webhooks/threetone", { method: "POST", headers: sample.headers, body: sample.body });
  check("verifyRequest", (await lib.verifyRequest(request, "k")).event === "call_ended");
  const forged = new Request("https://example.test/", { method: "POST", headers: { "x-threetone-signature": "sha256=" + "0".repeat(64) }, body: sample.body });
  const forgedError = await lib.verifyRequest(forged, "k").then(() => null, (error) => error);
  check("verifyRequest rejects forgeries with 401", forgedError?.code === "signature_mismatch" && forgedError.status === 401);

  // Body limits: maxBodyBytes in every call that takes a body, counted in
  // bytes (a string's UTF-8), answered with the core's payload_too_large.
  const tooLarge = (fn) => {
    try {
      fn();
      return "accepted";
    } catch (error) {
      return error instanceof lib.WebhookVerificationError ? `${error.code} ${error.status} ${error.message}` : `${error.name}: ${error.message}`;
    }
  };
  const limited = lib.generateTestEvent("call_ended", { secret: "k" });
  const limitedBytes = utf8(limited.body);
  const limitedSignature = limited.headers["x-threetone-signature"];
  const size = limitedBytes.length;
  const over = `payload_too_large 413 body is ${size} bytes, more than the allowed ${size - 1}`;
  const limitWebhook = new lib.Webhook("k", { maxBodyBytes: size - 1 });
  const overLimit = {
    verify: () => lib.verify(limited.body, limitedSignature, "k", { maxBodyBytes: size - 1 }),
    verifyOrThrow: () => lib.verifyOrThrow(limitedBytes, limitedSignature, "k", { maxBodyBytes: size - 1 }),
    sign: () => lib.sign(limitedBytes.buffer, "k", { maxBodyBytes: size - 1 }),
    constructEvent: () => lib.constructEvent(limited.body, limitedSignature, "k", { maxBodyBytes: size - 1 }),
    parseEvent: () => lib.parseEvent(limitedBytes, { maxBodyBytes: size - 1 }),
    "Webhook verify": () => limitWebhook.verify(limitedBytes, limitedSignature),
    "Webhook verifyOrThrow": () => limitWebhook.verifyOrThrow(limited.body, limitedSignature),
    "Webhook constructEvent": () => limitWebhook.constructEvent(limited.body, limitedSignature),
    "Webhook sign": () => limitWebhook.sign(limited.body),
  };
  for (const [name, call] of Object.entries(overLimit)) {
    const got = tooLarge(call);
    check(`maxBodyBytes: ${name} refuses one byte more with payload_too_large (413)`, got === over, got);
  }
  const atLimit = { maxBodyBytes: size };
  check(
    "maxBodyBytes: a body of exactly the limit is accepted",
    lib.verify(limited.body, limitedSignature, "k", atLimit) &&
      lib.constructEvent(limitedBytes, limitedSignature, "k", atLimit).event === "call_ended" &&
      lib.parseEvent(limited.body, atLimit).event === "call_ended" &&
      new lib.Webhook("k", atLimit).verify(limited.body, limitedSignature),
  );
  const accented = "\u00e9".repeat(60); // 60 UTF-16 units, 120 bytes
  const accentedTooLarge = tooLarge(() => lib.sign(accented, "k", { maxBodyBytes: 100 }));
  check("maxBodyBytes counts a string's UTF-8 bytes", accentedTooLarge === "payload_too_large 413 body is 120 bytes, more than the allowed 100", accentedTooLarge);
  const emoji = tooLarge(() => lib.verify("\u{1f600}".repeat(30) + "\ud800", "sha256=00", "k", { maxBodyBytes: 100 }));
  check("maxBodyBytes counts surrogate pairs as 4 bytes, a lone surrogate as 3", emoji === "payload_too_large 413 body is 123 bytes, more than the allowed 100", emoji);
  check("maxBodyBytes: a string of exactly the limit in bytes is accepted", lib.sign(accented, "k", { maxBodyBytes: 120 }) === (await peerSign("k", utf8(accented))));
  check("maxBodyBytes must be a number", tooLarge(() => lib.verify("x", "sha256=00", "k", { maxBodyBytes: "1mb" })).startsWith("TypeError"));
  check("a payload_too_large is a WebhookVerificationError", (() => {
    try {
      lib.parseEvent(limited.body, { maxBodyBytes: 0 });
    } catch (error) {
      return error instanceof lib.WebhookVerificationError;
    }
  })());
  const hugeRequest = new Request("https://example.test/", { method: "POST", headers: limited.headers, body: "x".repeat(1024 * 1024 + 1) });
  const hugeError = await lib.verifyRequest(hugeRequest, "k").then(() => null, (error) => error);
  check("verifyRequest reads at most 1 MiB by default", hugeError?.code === "payload_too_large" && hugeError.status === 413, String(hugeError));
  const smallLimit = new Request("https://example.test/", { method: "POST", headers: limited.headers, body: limited.body });
  const smallLimitError = await lib.verifyRequest(smallLimit, "k", { maxBodyBytes: size - 1 }).then(() => null, (error) => error);
  check("verifyRequest honours maxBodyBytes", smallLimitError?.code === "payload_too_large", String(smallLimitError));
  const webhookLimit = new Request("https://example.test/", { method: "POST", headers: limited.headers, body: limited.body });
  const webhookLimitError = await lib.verifyRequest(webhookLimit, limitWebhook).then(() => null, (error) => error);
  check("verifyRequest with a Webhook uses its maxBodyBytes", webhookLimitError?.code === "payload_too_large", String(webhookLimitError));

  // A body's length is what the engine holds, whatever its object says: a
  // Uint8Array subclass (or an own property) with a lying length must
  // neither write past the buffer reserved for it nor verify other bytes.
  class ClaimsHuge extends Uint8Array {
    get length() {
      return 2 ** 31;
    }
  }
  class ClaimsOne extends Uint8Array {
    get length() {
      return 1;
    }
    get byteLength() {
      return 1;
    }
  }
  const attempt = (fn) => {
    try {
      return fn();
    } catch (error) {
      return `${error.name}: ${error.message}`;
    }
  };
  const realBytes = utf8("x".repeat(300 * 1024));
  const realSignature = await peerSign("k", realBytes);
  const prefixSignature = await peerSign("k", realBytes.subarray(0, 1));
  const claimsHuge = attempt(() => lib.verify(new ClaimsHuge(utf8("lying")), lib.sign("lying", "k"), "k"));
  check("a Uint8Array subclass claiming 2**31 bytes verifies its real bytes", claimsHuge === true, String(claimsHuge));
  const claimsOne = new ClaimsOne(realBytes);
  check("a Uint8Array subclass claiming 1 byte verifies all of its real bytes", attempt(() => lib.verify(claimsOne, realSignature, "k")) === true);
  check("a Uint8Array subclass claiming 1 byte is not its first byte", attempt(() => lib.verify(claimsOne, prefixSignature, "k")) === false);
  check("a Uint8Array subclass claiming 1 byte signs all of its bytes", attempt(() => lib.sign(claimsOne, "k")) === realSignature);
  const ownLength = Object.defineProperty(new Uint8Array(realBytes), "length", { value: 1 });
  check("a Uint8Array with an own length of 1 verifies all of its real bytes", attempt(() => lib.verify(ownLength, realSignature, "k")) === true);
  const eventBytes = utf8(limited.body);
  const lyingEvent = attempt(() => lib.constructEvent(new ClaimsOne(eventBytes), limitedSignature, "k"));
  check("constructEvent of a lying Uint8Array verifies and parses the same real bytes", deepEqual(lyingEvent, JSON.parse(limited.body)), String(lyingEvent));
  const lyingView = new (class extends Uint16Array {
    get byteLength() {
      return 2;
    }
  })(realBytes.buffer.slice(0, 4096));
  check("another typed array with a lying byteLength is taken whole", attempt(() => lib.sign(lyingView, "k")) === (await peerSign("k", realBytes.subarray(0, 4096))));

  // Whatever a call throws, the next call works.
  const afterThrow = async (what, fn) => {
    const thrown = attempt(fn);
    const body = `after ${what}`;
    const works = attempt(() => lib.verify(body, lib.sign(body, "k"), "k") && lib.parseEvent(limited.body).event === "call_ended");
    check(`after ${what}, calls work`, works === true && lib.sign(body, "k") === (await peerSign("k", utf8(body))), `${thrown} / ${works}`);
  };
  await afterThrow("a payload_too_large", () => lib.verify(limited.body, limitedSignature, "k", { maxBodyBytes: 1 }));
  await afterThrow("a body claiming 2**31 bytes", () => lib.verify(new ClaimsHuge(4), "sha256=00", "k"));
  const detached = new ArrayBuffer(64);
  const detachedView = new Uint8Array(detached);
  structuredClone(detached, { transfer: [detached] });
  await afterThrow("a body whose buffer was detached", () => lib.verify(detachedView, "sha256=00", "k"));
  const throwingAge = {
    valueOf() {
      throw new Error("no number here");
    },
  };
  await afterThrow("an option that throws inside the call", () => lib.constructEvent(limited.body, limitedSignature, "k", { maxAgeSeconds: throwingAge }));

  // The verifier cache is keyed without ambiguity: the list ["a", "b"] and
  // the single secret "a\u0000b" are different receivers.
  const collide = "collide";
  const signedByB = await peerSign("cache_b", utf8(collide));
  check("the list [a, b] accepts b's signature", lib.verify(collide, signedByB, ["cache_a", "cache_b"]));
  check("the secret \"a\\u0000b\" does not accept b's signature after the list [a, b]", !lib.verify(collide, signedByB, "cache_a\u0000cache_b"));
  const signedByD = await peerSign("cache_d", utf8(collide));
  check("the secret \"c\\u0000d\" does not accept d's signature", !lib.verify(collide, signedByD, "cache_c\u0000cache_d"));
  check("the list [c, d] accepts d's signature after the secret \"c\\u0000d\"", lib.verify(collide, signedByD, ["cache_c", "cache_d"]));

  return results;
};

/** The peer: Web Crypto's HMAC-SHA256, as `sha256=<hex>`. */
module.exports.peerSign = async function peerSign(secret, bytes) {
  const key = await crypto.subtle.importKey("raw", utf8(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, bytes));
  return `sha256=${Array.from(mac, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
};

/** The closing line every runner prints: failures first, then `N passed, M failed`. */
module.exports.summary = function summary(runtime, results) {
  const lines = results.failures.map((failure) => `not ok ${runtime}: ${failure}`);
  lines.push(`${runtime}: ${results.passed} passed, ${results.failed} failed`);
  return lines.join("\n");
};

// The Wasm component (target/component/threetone-webhooks.wasm) through jco:
// the shared vectors, rotation, options and ThreeTone's documented payloads,
// with signatures made by Node's own crypto. `cargo xtask component` builds
// the component; the xtask test task transpiles it into target/component/js/
// and runs this file with `node --test`.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const COMPONENT = `${ROOT}target/component/threetone-webhooks.wasm`;
const TRANSPILED = `${ROOT}target/component/js/threetone-webhooks.js`;
const JCO = `${ROOT}component/node_modules/.bin/jco`;

if (!existsSync(TRANSPILED)) {
  throw new Error(`${TRANSPILED} is missing: run \`cargo xtask component\`, then transpile it`);
}
const { webhooks } = await import(TRANSPILED);
const { Verifier, parseEvent } = webhooks;

const encoder = new TextEncoder();

/** Accept every event type, no freshness check: the core's defaults. */
const DEFAULTS = { allowUnknownEvents: true };

function vectors(name) {
  return JSON.parse(readFileSync(`${ROOT}tests/vectors/${name}`, "utf8"));
}

/** `sha256=<hex>` computed by Node's crypto, independent of the component. */
function sign(body, secret) {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** The error record a call fails with (jco throws it as a ComponentError's payload). */
function failure(call) {
  try {
    call();
  } catch (error) {
    if (error.payload === undefined) throw error;
    return error.payload;
  }
  assert.fail("the call succeeded; an error was expected");
}

/** Each error code's HTTP status, from the generated catalog. */
const catalog = vectors("catalog.json");
const statusOf = Object.fromEntries(catalog.error_codes.map(({ code, status }) => [code, status]));

/** Asserts that `call` fails with `code` and `httpStatus` (the catalog's), and returns the error. */
function assertFails(call, code, httpStatus, context) {
  const error = failure(call);
  assert.equal(error.code, code, `${context}: ${error.message}`);
  assert.equal(error.httpStatus, httpStatus, context);
  assert.equal(statusOf[code], httpStatus, `${context}: the catalog's status`);
  assert.ok(error.message.length > 0, context);
  return error;
}

/** Whether `name` is one of the documented event types (each has a published schema). */
function isKnown(name) {
  return existsSync(`${ROOT}schema/${name}.schema.json`);
}

/** Asserts that `event` is the accepted event `body` with every field kept. */
function assertEvent(event, body, context) {
  const sent = JSON.parse(body);
  assert.deepEqual(JSON.parse(event.json), sent, context);
  assert.equal(event.eventType, sent.event, context);
  assert.equal(event.known, isKnown(sent.event), context);
  assert.equal(event.timestamp, sent.timestamp, context);
  assert.equal(event.unixSeconds, BigInt(Math.floor(Date.parse(sent.timestamp) / 1000)), context);
  const callId = sent.data?.call_id;
  assert.equal(event.callId, typeof callId === "string" ? callId : undefined, context);
}

describe("the component", () => {
  test("imports nothing and exports the threetone:webhooks interface", () => {
    const wit = execFileSync(JCO, ["wit", COMPONENT], { encoding: "utf8" });
    assert.doesNotMatch(wit, /^\s*import\b/m);
    assert.match(wit, /^\s*export threetone:webhooks\/webhooks@0\.2\.0;$/m);
  });

  test("validates (jco parses it into text)", () => {
    const wat = execFileSync(JCO, ["print", COMPONENT], { encoding: "utf8", maxBuffer: 1 << 30 });
    assert.match(wat, /^\(component/);
  });
});

describe("signatures.json", () => {
  const { vectors: cases } = vectors("signatures.json");

  test("has vectors", () => assert.ok(cases.length >= 10));

  for (const { name, secret_hex, body_hex, signature } of cases) {
    test(name, () => {
      const verifier = Verifier.new(Buffer.from(secret_hex, "hex"));
      const body = Buffer.from(body_hex, "hex");
      assert.equal(verifier.sign(body), signature);
      assert.equal(verifier.verify(body, signature), undefined);
      const altered = Buffer.concat([body, Buffer.from("x")]);
      assertFails(() => verifier.verify(altered, signature), "signature_mismatch", 401, name);
    });
  }
});

describe("signature-headers.json", () => {
  const { secret, body, cases } = vectors("signature-headers.json");
  const verifier = Verifier.new(encoder.encode(secret));

  for (const { name, header, code } of cases) {
    test(name, () => {
      if (code === null) {
        assert.equal(verifier.verify(encoder.encode(body), header), undefined);
      } else {
        assertFails(() => verifier.verify(encoder.encode(body), header), code, 401, name);
      }
    });
  }
});

describe("payload-cases.json", () => {
  const { cases } = vectors("payload-cases.json");

  test("has cases", () => assert.ok(cases.length >= 50));

  for (const { name, body, code, event, path, expected, found } of cases) {
    test(name, () => {
      if (code === null) {
        const parsed = parseEvent(encoder.encode(body), DEFAULTS);
        assert.equal(parsed.eventType, event);
        assertEvent(parsed, body, name);
      } else {
        const error = assertFails(() => parseEvent(encoder.encode(body), DEFAULTS), code, 400, name);
        if (code === "invalid_payload") {
          const field = error.invalidField;
          assert.equal(field?.path, path, name);
          assert.ok(field.expected.length > 0 && field.found.length > 0, name);
          if (expected !== undefined) assert.equal(field.expected, expected, name);
          if (found !== undefined) assert.equal(field.found, found, name);
          assert.equal(error.message, `invalid payload at ${field.path}: expected ${field.expected}, found ${field.found}`, name);
        } else {
          assert.equal(error.invalidField, undefined, name);
        }
      }
    });
  }
});

describe("catalog.json", () => {
  test("the known types are the catalog's", () => {
    assert.ok(catalog.event_types.length > 0);
    for (const { name, required } of catalog.event_types) {
      const body = encoder.encode(JSON.stringify({ event: name, timestamp: "2024-01-15T10:30:00Z", data: {} }));
      const strict = { allowUnknownEvents: false };
      if (required.length > 0) {
        const error = assertFails(() => parseEvent(body, strict), "invalid_payload", 400, name);
        assert.equal(error.invalidField.path, `$.data.${required[0]}`, name);
        assert.equal(error.invalidField.found, "nothing", name);
      } else {
        assert.equal(parseEvent(body, strict).known, true, name);
      }
    }
  });
});

describe("options", () => {
  const body = readFileSync(`${ROOT}tests/vectors/payloads/call_started.json`);
  const sent = Math.floor(Date.parse(JSON.parse(body).timestamp) / 1000);
  const freshness = (now) => ({
    allowUnknownEvents: true,
    freshness: { maxAgeSeconds: 300n, nowUnixSeconds: BigInt(now) },
  });

  test("unknown event types are accepted, or rejected when asked", () => {
    const unknown = encoder.encode(
      '{"event":"call_recording_ready","timestamp":"2024-01-15T10:30:00Z","data":{}}',
    );
    assert.equal(parseEvent(unknown, DEFAULTS).known, false);
    assertFails(() => parseEvent(unknown, { allowUnknownEvents: false }), "unknown_event_type", 400, "rejected");
    assert.equal(parseEvent(body, { allowUnknownEvents: false }).known, true);
  });

  test("freshness accepts the window's edges and rejects beyond them", () => {
    assert.equal(parseEvent(body, freshness(sent + 300)).eventType, "call_started");
    assert.equal(parseEvent(body, freshness(sent - 300)).eventType, "call_started");
    assertFails(() => parseEvent(body, freshness(sent + 301)), "timestamp_too_old", 400, "old");
    assertFails(() => parseEvent(body, freshness(sent - 301)), "timestamp_in_future", 400, "future");
  });
});

describe("secrets", () => {
  const body = encoder.encode('{"event":"heartbeat","timestamp":"2024-01-15T10:30:00Z"}');
  const secrets = ["whsec_current", "whsec_previous", "whsec_oldest"];

  test("rotation: every configured secret is accepted, another is not", () => {
    const verifier = Verifier.withSecrets(secrets.map((secret) => encoder.encode(secret)));
    for (const secret of secrets) {
      assert.equal(verifier.verify(body, sign(body, secret)), undefined, secret);
    }
    assert.equal(verifier.sign(body), sign(body, secrets[0]));
    assertFails(() => verifier.verify(body, sign(body, "whsec_other")), "signature_mismatch", 401, "other");
  });

  test("an empty secret or none is a configuration error (503)", () => {
    assertFails(() => Verifier.new(new Uint8Array()), "empty_secret", 503, "new");
    assertFails(() => Verifier.withSecrets([]), "no_secret", 503, "none");
    const oneEmpty = [encoder.encode("whsec_current"), new Uint8Array()];
    assertFails(() => Verifier.withSecrets(oneEmpty), "empty_secret", 503, "one empty");
  });
});

describe("ThreeTone's documented payloads through construct-event", () => {
  const secret = "whsec_component_test_5f2c";
  const verifier = Verifier.new(encoder.encode(secret));
  const directory = `${ROOT}tests/vectors/payloads/`;
  const seeds = readdirSync(directory).filter((file) => file.endsWith(".json"));

  test("there are four", () => assert.equal(seeds.length, 4));

  for (const file of seeds) {
    const body = readFileSync(directory + file);
    const name = file.replace(/\.json$/, "");

    test(`${name} is accepted with a Node-made signature`, () => {
      const event = verifier.constructEvent(body, sign(body, secret), DEFAULTS);
      assert.equal(event.eventType, name);
      assert.equal(event.known, true);
      assertEvent(event, body.toString("utf8"), name);
    });

    test(`${name} is refused when tampered with, or signed with another secret`, () => {
      const tampered = Buffer.from(body.toString("utf8").replace("call_abc123", "call_abc124"));
      assert.notDeepEqual(tampered, body);
      const construct = (bytes, header) => () => verifier.constructEvent(bytes, header, DEFAULTS);
      assertFails(construct(tampered, sign(body, secret)), "signature_mismatch", 401, "tampered");
      assertFails(construct(body, sign(body, "whsec_other")), "signature_mismatch", 401, "other");
      assertFails(construct(body, ""), "missing_signature", 401, "missing");
    });
  }

  test("an authentic body that is not an event fails on the payload (400)", () => {
    const body = encoder.encode('{"event":"call_started","timestamp":"2024-01-15T10:30:00Z","data":{}}');
    const construct = () => verifier.constructEvent(body, sign(body, secret), DEFAULTS);
    const error = assertFails(construct, "invalid_payload", 400, "payload");
    assert.equal(error.invalidField.path, "$.data.call_id"); // the first missing required field
  });
});

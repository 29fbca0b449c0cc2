// What the adapter tests share: a server on 127.0.0.1 for the length of a
// test, requests, and the cases every adapter must pass (valid, forged,
// malformed, too large).

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import http from "node:http";

import { generateTestEvent } from "threetone-webhooks";

/** The body limit the adapters under test are mounted with. */
export const LIMIT = 4096;

/** Runs `fn(baseUrl)` against `server` listening on 127.0.0.1:0, then closes it. */
export async function withServer(server, fn) {
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    return await fn(`http://127.0.0.1:${server.address().port}`);
  } finally {
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** POSTs `body` with `headers`; resolves to `{ status, json }`. */
export async function post(url, { body, headers }) {
  const response = await fetch(url, { method: "POST", body, headers });
  return { status: response.status, json: await response.json() };
}

/**
 * POSTs `chunks` without ending the body unless `end`; resolves to the answer
 * `{ status, json }`, or rejects when none comes within `timeout` ms (an
 * adapter that waits for the whole body never answers).
 */
export function partialPost(url, { headers = {}, chunks = [], end = false, timeout = 5000 }) {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: "POST", headers });
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`no answer within ${timeout} ms`));
    }, timeout);
    request.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.on("response", (response) => {
      const parts = [];
      response.on("data", (part) => parts.push(part));
      response.on("error", reject);
      response.on("end", () => {
        clearTimeout(timer);
        request.destroy();
        resolve({ status: response.statusCode, json: JSON.parse(Buffer.concat(parts)) });
      });
    });
    for (const chunk of chunks) request.write(chunk);
    if (end) request.end();
    else request.flushHeaders();
  });
}

/** The limit cases against `url` of an adapter mounted with maxBodyBytes: LIMIT and `secret`. */
export async function assertBodyLimits(url, secret) {
  const event = generateTestEvent("call_ended", { secret });
  const signedHeaders = { "content-type": "application/json", "x-threetone-signature": event.headers["x-threetone-signature"] };
  const declared = await partialPost(url, { headers: { ...signedHeaders, "content-length": "1000000" } });
  assert.equal(declared.status, 413, "a declared Content-Length over the limit, nothing sent");
  assert.equal(declared.json.error, "payload_too_large");
  assert.equal(declared.json.message, `body is 1000000 bytes, more than the allowed ${LIMIT}`);
  const chunked = await partialPost(url, { headers: signedHeaders, chunks: Array.from({ length: 16 }, () => "x".repeat(1024)) });
  assert.equal(chunked.status, 413, "a chunked body over the limit, never ended");
  assert.equal(chunked.json.error, "payload_too_large");
  assert.match(chunked.json.message, new RegExp(`more than the allowed ${LIMIT}$`));
  const under = await partialPost(url, { headers: signedHeaders, chunks: [event.body.slice(0, 100), event.body.slice(100)], end: true });
  assert.equal(under.status, 200, "a chunked body under the limit");
}

/** A declared Content-Length of one byte over 1 MiB, against an adapter with its default limit. */
export async function assertDefaultLimit(url) {
  const answer = await partialPost(url, { headers: { "content-type": "application/json", "content-length": String(1024 * 1024 + 1) } });
  assert.deepEqual([answer.status, answer.json.message], [413, "body is 1048577 bytes, more than the allowed 1048576"]);
}

/** `body` signed with `secret` by Node's own crypto, with the headers ThreeTone sends. */
export function signed(body, secret) {
  const signature = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
  return { body, headers: { "content-type": "application/json", "x-threetone-signature": signature } };
}

/**
 * The cases every adapter passes on `url` (a route that answers a verified
 * event with 200 `{ received: true }` and records its call id, read back by
 * `received()`): a valid event, a forgery, malformed headers and bodies.
 */
export async function assertSharedCases(url, secret, received) {
  const before = (await received()).length;
  const valid = generateTestEvent("call_ended", { secret, id: `valid_${Math.random().toString(16).slice(2)}` });
  assert.deepEqual(await post(url, valid), { status: 200, json: { received: true } }, "a valid event");
  const forged = generateTestEvent("call_ended", { secret: "not the secret" });
  assert.deepEqual(await post(url, forged), {
    status: 401,
    json: { error: "signature_mismatch", message: "signature does not match the body for any configured secret" },
  });
  const headers = (signature) => ({ ...valid.headers, "x-threetone-signature": signature });
  const malformedHeaders = {
    "sha256=zz": "invalid_signature_length",
    [`sha256=${"z".repeat(64)}`]: "invalid_signature_hex",
    [`sha1=${"0".repeat(40)}`]: "unknown_signature_scheme",
  };
  for (const [header, code] of Object.entries(malformedHeaders)) {
    const answer = await post(url, { body: valid.body, headers: headers(header) });
    assert.deepEqual([answer.status, answer.json.error], [401, code], header);
  }
  const unsigned = await post(url, { body: valid.body, headers: { "content-type": "application/json" } });
  assert.deepEqual([unsigned.status, unsigned.json.error], [401, "missing_signature"]);
  const notJson = await post(url, signed("{not json", secret));
  assert.deepEqual([notJson.status, notJson.json.error], [400, "invalid_json"]);
  const invalid = JSON.parse(valid.body);
  invalid.data.duration_seconds = "long";
  const invalidAnswer = await post(url, signed(JSON.stringify(invalid), secret));
  assert.equal(invalidAnswer.status, 400);
  assert.deepEqual(
    [invalidAnswer.json.error, invalidAnswer.json.path, invalidAnswer.json.expected, invalidAnswer.json.found],
    ["invalid_payload", "$.data.duration_seconds", "a non-negative integer", 'string "long"'],
  );
  // Only the valid event got through.
  assert.deepEqual((await received()).slice(before), [JSON.parse(valid.body).data.call_id]);
}

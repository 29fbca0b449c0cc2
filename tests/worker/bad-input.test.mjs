// A corpus of bad and unusual input at the Worker: each case gets a clear
// status, and nothing reaches the origin that should not.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { baseVars, event, sha256, sign, startOrigin, startWorker } from "./harness.mjs";

let origin;
let edge;
before(async () => {
  origin = await startOrigin();
  edge = await startWorker(baseVars(origin, { ON_INVALID_PAYLOAD: "reject", RATE_LIMIT_FAILURES: "1000" }));
});
after(async () => {
  await edge.dispose();
  await origin.close();
});

const path = "/webhooks/threetone";
const json = { "content-type": "application/json" };

/** Sends a raw request and asserts its status and whether the origin got it. */
async function expectCase(name, init, { status, forwarded }) {
  const before = origin.received.length;
  const response = await edge.fetch(path, { method: "POST", ...init }).catch((error) => ({ status: `network error ${error.cause?.code}` }));
  const statuses = Array.isArray(status) ? status : [status];
  assert.ok(statuses.includes(response.status), `${name}: got ${response.status}, expected ${statuses}`);
  assert.equal(origin.received.length - before, forwarded ? 1 : 0, `${name}: forwarded`);
  if (forwarded && init.body !== undefined) assert.equal(origin.received.at(-1).sha256, sha256(Buffer.from(init.body)), name);
}

test("truncated bodies: the signature no longer matches", async () => {
  const body = event();
  for (const cut of [1, Math.floor(body.length / 2), body.length - 1]) {
    await expectCase(`cut at ${cut}`, { headers: { ...json, "x-threetone-signature": sign(body) }, body: body.slice(0, cut) }, { status: 401, forwarded: false });
  }
});

test("non-UTF-8, empty, BOM-prefixed and deeply nested bodies", async () => {
  const cases = {
    "non-UTF-8": Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    empty: Buffer.alloc(0),
    "BOM before JSON": Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(event())]),
    "nested 10,000 deep": Buffer.from("[".repeat(10_000) + "]".repeat(10_000)),
    "object nested 10,000 deep": Buffer.from('{"a":'.repeat(10_000) + "1" + "}".repeat(10_000)),
  };
  for (const [name, body] of Object.entries(cases)) {
    // Unsigned: 401. Signed but not an event (ON_INVALID_PAYLOAD=reject): 400.
    await expectCase(`${name}, unsigned`, { headers: json, body }, { status: 401, forwarded: false });
    await expectCase(`${name}, signed`, { headers: { ...json, "x-threetone-signature": sign(body) }, body }, { status: 400, forwarded: false });
  }
});

test("huge headers: never copied to the origin; past the runtime's limit, refused", async () => {
  // 64 KiB of extra header on an authentic event: accepted, forwarded once, without it.
  const body = event();
  await expectCase("64 KiB extra header", { headers: { ...json, "x-threetone-signature": sign(body), "x-padding": "p".repeat(64 * 1024) }, body }, {
    status: 200,
    forwarded: true,
  });
  assert.equal(origin.received.at(-1).headers["x-padding"], undefined);
  // 256 KiB: workerd refuses it before the Worker runs, answering 431 or, when
  // the client is still sending, resetting the connection (a race).
  const big = event();
  await expectCase("256 KiB extra header", { headers: { ...json, "x-threetone-signature": sign(big), "x-padding": "p".repeat(256 * 1024) }, body: big }, {
    status: [431, "network error ECONNRESET"],
    forwarded: false,
  });
  // A 128 KiB signature header: 431 from the runtime, or 401 from the Worker.
  await expectCase("128 KiB signature header", { headers: { ...json, "x-threetone-signature": "sha256=" + "a".repeat(128 * 1024) }, body: event() }, {
    status: [401, 431],
    forwarded: false,
  });
});

test("duplicate signature headers are refused, even when both are right", async () => {
  const body = event();
  const headers = new Headers(json);
  headers.append("x-threetone-signature", sign(body));
  headers.append("x-threetone-signature", sign(body));
  await expectCase("two signatures", { headers, body }, { status: 401, forwarded: false });
});

test("header names in any case and values with surrounding space or upper-case hex are accepted", async () => {
  for (const name of ["X-THREETONE-SIGNATURE", "x-threetone-signature", "X-ThreeTone-Signature"]) {
    const body = event();
    await expectCase(name, { headers: { ...json, [name]: sign(body) }, body }, { status: 200, forwarded: true });
  }
  const body = event();
  const value = `  sha256=${sign(body).slice(7).toUpperCase()}\t`;
  await expectCase("padded upper-case hex", { headers: { ...json, "x-threetone-signature": value }, body }, { status: 200, forwarded: true });
});

test("media types: JSON with parameters is fine, others get 415", async () => {
  const body = event();
  await expectCase("charset parameter", { headers: { "content-type": "application/json; charset=utf-8", "x-threetone-signature": sign(body) }, body }, { status: 200, forwarded: true });
  await expectCase("text/plain", { headers: { "content-type": "text/plain", "x-threetone-signature": sign(event()) }, body: event() }, { status: 415, forwarded: false });
  await expectCase("multipart", { headers: { "content-type": "multipart/form-data; boundary=x", "x-threetone-signature": "sha256=00" }, body: "--x--" }, { status: 415, forwarded: false });
});

test("a signature made for another body, or with another scheme, is refused", async () => {
  const body = event();
  await expectCase("other body's signature", { headers: { ...json, "x-threetone-signature": sign(event()) }, body }, { status: 401, forwarded: false });
  await expectCase("sha1 scheme", { headers: { ...json, "x-threetone-signature": "sha1=" + "0".repeat(40) }, body }, { status: 401, forwarded: false });
  await expectCase("Stripe-style header", { headers: { ...json, "x-threetone-signature": `t=1,v1=${sign(body).slice(7)}` }, body }, { status: 401, forwarded: false });
});

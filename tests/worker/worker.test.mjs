// End-to-end tests of the threetone-edge Worker in real workerd (Miniflare),
// with a real origin on 127.0.0.1. Signatures are made by Node's own crypto.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  ADMIN_TOKEN,
  SECRET,
  baseVars,
  event,
  nowTimestamp,
  seedPayload,
  sha256,
  sign,
  sleep,
  startOrigin,
  startWorker,
  withEdge,
  workerOutput,
} from "./harness.mjs";

/** A marker placed in bodies: it must never reach the Worker's logs. */
const BODY_MARKER = "body-marker-never-logged-7d1e";

/** Starts an origin and a Worker configured by `vars(origin)`; stops both after the suite. */
function setup(vars = (origin) => baseVars(origin)) {
  const context = {};
  before(async () => {
    context.origin = await startOrigin();
    context.edge = await startWorker(vars(context.origin));
  });
  after(async () => {
    await context.edge?.dispose();
    await context.origin?.close();
  });
  return context;
}

describe("a valid event", () => {
  const ctx = setup();

  test("is forwarded once, byte for byte, with only the allowed headers", async () => {
    const body = seedPayload("call_started")
      .toString()
      .replace("New York, NY", BODY_MARKER)
      .replace("2024-01-15T10:30:00Z", nowTimestamp());
    const response = await ctx.edge.post(body, {
      headers: { cookie: "session=abc", authorization: "Bearer inbound", "x-internal": "leak" },
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: "delivered", origin_status: 200 });
    assert.equal(ctx.origin.received.length, 1);
    const forwarded = ctx.origin.received[0];
    assert.equal(forwarded.method, "POST");
    assert.equal(forwarded.url, "/webhooks/threetone");
    assert.equal(forwarded.sha256, sha256(Buffer.from(body)));
    assert.equal(forwarded.headers["content-type"], "application/json");
    assert.equal(forwarded.headers["x-threetone-signature"], sign(body));
    assert.equal(forwarded.headers["x-threetone-event"], "call_started");
    assert.match(forwarded.headers["x-request-id"], /^[0-9a-z-]{8,}$/);
    assert.equal(forwarded.headers["x-request-id"], response.headers.get("x-request-id"));
    for (const name of ["cookie", "authorization", "x-internal", "cf-connecting-ip", "x-threetone-edge-signature"]) {
      assert.equal(forwarded.headers[name], undefined, name);
    }
  });

  test("arrives intact when it is not valid UTF-8 JSON but correctly signed (flagged)", async () => {
    const body = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const before = ctx.origin.received.length;
    const response = await ctx.edge.post(body);
    assert.equal(response.status, 200);
    const forwarded = ctx.origin.received[before];
    assert.equal(forwarded.sha256, sha256(body));
    assert.equal(forwarded.headers["x-threetone-edge-invalid"], "invalid_json");
  });
});

describe("requests that are refused", () => {
  const ctx = setup((origin) => baseVars(origin, { MAX_BODY_BYTES: "2048" }));

  test("bad, missing and malformed signatures get 401 and are not forwarded", async () => {
    const body = event();
    for (const signature of [sign(body, "wrong secret"), null, "sha256=xyz", "sha1=abc", ""]) {
      const response = await ctx.edge.post(body, { signature });
      assert.equal(response.status, 401, String(signature));
      assert.deepEqual(await response.json(), { error: "invalid_signature" });
    }
    assert.equal(ctx.origin.received.length, 0);
  });

  test("a method other than POST gets 405", async () => {
    const response = await ctx.edge.fetch("/webhooks/threetone");
    assert.equal(response.status, 405);
    assert.equal(response.headers.get("allow"), "POST");
  });

  test("a body that is not JSON gets 415", async () => {
    const body = "event=call_started";
    const response = await ctx.edge.post(body, { headers: { "content-type": "application/x-www-form-urlencoded" } });
    assert.equal(response.status, 415);
  });

  test("too large gets 413, by Content-Length and while streaming without one", async () => {
    const big = JSON.stringify({ event: "call_ended", pad: "x".repeat(4096) });
    const declared = await ctx.edge.post(big);
    assert.equal(declared.status, 413);
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(new TextEncoder().encode("x".repeat(1024)));
        controller.close();
      },
    });
    const streamed = await ctx.edge.fetch("/webhooks/threetone", {
      method: "POST",
      body: stream,
      duplex: "half",
      headers: { "content-type": "application/json", "x-threetone-signature": sign(big) },
    });
    assert.equal(streamed.status, 413);
    assert.equal(ctx.origin.received.length, 0);
  });

  test("a body without Content-Length is not read past the limit", async () => {
    // 16 MiB offered; the Worker answers (or drops the connection) once it
    // has passed 2 KiB, so the client never gets to send most of it.
    const chunks = 16 * 1024;
    let pulled = 0;
    const endless = new ReadableStream({
      pull(controller) {
        if (++pulled > chunks) controller.close();
        else controller.enqueue(new Uint8Array(1024).fill(120));
      },
    });
    const answer = await ctx.edge
      .fetch("/webhooks/threetone", {
        method: "POST",
        body: endless,
        duplex: "half",
        headers: { "content-type": "application/json", "x-threetone-signature": sign("x") },
      })
      .then((response) => response.status)
      .catch((error) => error.cause?.code);
    assert.ok(answer === 413 || answer === "ECONNRESET" || answer === "EPIPE", String(answer));
    assert.ok(pulled < chunks / 8, `the client sent ${pulled} KiB`);
    assert.equal(ctx.origin.received.length, 0);
  });

  test("unknown paths get 404", async () => {
    assert.equal((await ctx.edge.fetch("/nope")).status, 404);
  });
});

describe("configuration fails closed", () => {
  const origins = {};
  before(async () => {
    origins.origin = await startOrigin();
  });
  after(() => origins.origin.close());

  const cases = [
    ["no secret", (origin) => baseVars(origin, { WEBHOOK_SECRET: undefined }), "WEBHOOK_SECRET"],
    ["no origin", (origin) => baseVars(origin, { ORIGIN_URL: undefined }), "ORIGIN_URL"],
    ["an http origin", (origin) => baseVars(origin, { ALLOW_INSECURE_ORIGIN: undefined }), "ORIGIN_URL"],
    ["a malformed number", (origin) => baseVars(origin, { MAX_BODY_BYTES: "lots" }), "MAX_BODY_BYTES"],
    ["an origin that is not a URL", (origin) => baseVars(origin, { ORIGIN_URL: "https://exa mple.com/hook" }), "ORIGIN_URL"],
    ["an origin that is not http(s)", (origin) => baseVars(origin, { ORIGIN_URL: "ftp://example.com/hook" }), "ORIGIN_URL"],
  ];
  for (const [name, vars, variable] of cases) {
    test(`${name}: 503 with Retry-After, nothing forwarded, /health says why`, async () => {
      const edge = await startWorker(vars(origins.origin));
      try {
        const response = await edge.post(event());
        assert.equal(response.status, 503);
        assert.deepEqual(await response.json(), { error: "not_configured" });
        assert.ok(Number(response.headers.get("retry-after")) > 0);
        const health = await edge.fetch("/health");
        assert.equal(health.status, 503);
        const report = await health.json();
        assert.equal(report.status, "not_configured");
        assert.ok(report.problems.some((problem) => problem.variable === variable), JSON.stringify(report));
        assert.ok(!JSON.stringify(report).includes(SECRET));
      } finally {
        await edge.dispose();
      }
      assert.equal(origins.origin.received.length, 0);
    });
  }
});

test("an https origin with a Unicode host name is accepted", async () => {
  const origin = await startOrigin();
  const edge = await startWorker(baseVars(origin, { ORIGIN_URL: "https://bücher.example/webhooks", ALLOW_INSECURE_ORIGIN: undefined }));
  try {
    const health = await edge.fetch("/health");
    assert.deepEqual([health.status, (await health.json()).problems], [200, []]);
  } finally {
    await edge.dispose();
    await origin.close();
  }
});

describe("origin failures map to statuses ThreeTone retries", () => {
  const ctx = setup((origin) => baseVars(origin, { ORIGIN_TIMEOUT_MS: "400" }));

  test("origin 500 gives 502", async () => {
    ctx.origin.answer(() => ({ status: 500 }));
    const response = await ctx.edge.post(event());
    assert.equal(response.status, 502);
    assert.deepEqual(await response.json(), { error: "origin_error", origin_status: 500 });
  });

  test("origin timeout gives 504", async () => {
    ctx.origin.answer(() => ({ status: 200, delayMs: 1500 }));
    const response = await ctx.edge.post(event());
    assert.equal(response.status, 504);
  });

  test("origin 4xx is passed through with its body", async () => {
    ctx.origin.answer(() => ({ status: 422, body: "unknown customer" }));
    const response = await ctx.edge.post(event());
    assert.equal(response.status, 422);
    assert.equal(await response.text(), "unknown customer");
  });

  test("an origin that refuses connections gives 503", async () => {
    const closed = await startOrigin();
    await closed.close();
    const edge = await startWorker(baseVars(closed));
    try {
      const response = await edge.post(event());
      assert.equal(response.status, 503);
      assert.deepEqual(await response.json(), { error: "origin_unreachable" });
    } finally {
      await edge.dispose();
    }
  });
});

describe("options", () => {
  test("rotation: the current and the previous secrets are both accepted", async () => {
    const previous = { WEBHOOK_SECRET_PREVIOUS: "whsec_old_1_4f9a2c7e", WEBHOOK_SECRET_PREVIOUS_2: "whsec_old_2_b81d03e6" };
    await withEdge(previous, async (origin, edge) => {
      for (const secret of [SECRET, ...Object.values(previous)]) {
        const body = event();
        assert.equal((await edge.post(body, { signature: sign(body, secret) })).status, 200, secret);
      }
      const body = event();
      assert.equal((await edge.post(body, { signature: sign(body, "whsec_never") })).status, 401);
      assert.equal(origin.received.length, 3);
    });
  });

  test("FORWARD_EVENTS: other events are acknowledged, not forwarded", async () => {
    await withEdge({ FORWARD_EVENTS: "call_ended, escalation_triggered" }, async (origin, edge) => {
      const ignored = await edge.post(event("call_started"));
      assert.equal(ignored.status, 200);
      assert.deepEqual(await ignored.json(), { status: "ignored" });
      assert.equal((await edge.post(event("call_ended"))).status, 200);
      assert.deepEqual(origin.received.map((request) => request.headers["x-threetone-event"]), ["call_ended"]);
    });
  });

  const invalid = JSON.stringify({ event: "conversation_ended", timestamp: "2024-01-15T10:35:00Z", data: { turn_count: -1 } });

  test("ON_INVALID_PAYLOAD=forward: forwarded with a flag header", async () => {
    await withEdge({ ON_INVALID_PAYLOAD: "forward" }, async (origin, edge) => {
      assert.equal((await edge.post(invalid)).status, 200);
      assert.equal(origin.received[0].headers["x-threetone-edge-invalid"], "invalid_payload");
      assert.equal(origin.received[0].headers["x-threetone-event"], "conversation_ended");
    });
  });

  test("ON_INVALID_PAYLOAD=reject: 400 with the code and path, not forwarded", async () => {
    await withEdge({ ON_INVALID_PAYLOAD: "reject" }, async (origin, edge) => {
      const response = await edge.post(invalid);
      assert.equal(response.status, 400);
      const answer = await response.json();
      assert.equal(answer.error, "invalid_payload");
      assert.match(answer.message, /\$\.data/);
      // The core's error record: the field's path, what it must hold, what it held.
      assert.deepEqual([answer.path, answer.expected, answer.found], ["$.data.turn_count", "a non-negative integer", "integer -1"]);
      assert.equal(origin.received.length, 0);
    });
  });

  test("MAX_EVENT_AGE_SECONDS: stale events get 400, fresh ones pass", async () => {
    await withEdge({ MAX_EVENT_AGE_SECONDS: "300" }, async (origin, edge) => {
      const stale = await edge.post(event("call_ended", { timestamp: "2024-01-15T10:35:00Z" }));
      assert.equal(stale.status, 400);
      assert.equal((await stale.json()).error, "timestamp_too_old");
      const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      assert.equal((await edge.post(event("call_ended", { timestamp: now }))).status, 200);
      assert.equal(origin.received.length, 1);
    });
  });

  test("ORIGIN_SECRET: the origin gets an edge signature it can check", async () => {
    await withEdge({ ORIGIN_SECRET: "origin_shared_secret" }, async (origin, edge) => {
      const body = event();
      assert.equal((await edge.post(body)).status, 200);
      assert.equal(origin.received[0].headers["x-threetone-edge-signature"], sign(body, "origin_shared_secret"));
    });
  });
});

describe("idempotency", () => {
  const ctx = setup();

  test("the same event twice reaches the origin once", async () => {
    const body = event();
    assert.equal((await ctx.edge.post(body)).status, 200);
    const again = await ctx.edge.post(body);
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), { status: "duplicate" });
    assert.equal(ctx.origin.received.filter((request) => request.sha256 === sha256(Buffer.from(body))).length, 1);
  });

  test("an immediate redelivery finds the event settled, though settling is not awaited (30 events)", async () => {
    // The claim is settled by a call sent before the answer leaves the edge;
    // the shard takes its calls in order, so the redelivery that follows the
    // answer is a duplicate, never 503 in flight.
    for (let i = 0; i < 30; i++) {
      const body = event();
      assert.equal((await ctx.edge.post(body)).status, 200);
      const again = await ctx.edge.post(body);
      assert.deepEqual([again.status, await again.json()], [200, { status: "duplicate" }], `event ${i}`);
    }
  });

  test("a failed delivery is released at once: the sender's immediate retry is forwarded", async () => {
    const body = event();
    ctx.origin.answer(() => ({ status: 500 }));
    assert.equal((await ctx.edge.post(body)).status, 502);
    ctx.origin.answer(() => ({ status: 200 }));
    const retry = await ctx.edge.post(body);
    assert.deepEqual([retry.status, await retry.json()], [200, { status: "delivered", origin_status: 200 }]);
    assert.equal(ctx.origin.received.filter((request) => request.sha256 === sha256(Buffer.from(body))).length, 2);
  });

  test("20 concurrent copies reach the origin once; the others are duplicates or retried later", async () => {
    ctx.origin.answer(() => ({ status: 200, delayMs: 300 }));
    const body = event();
    const responses = await Promise.all(Array.from({ length: 20 }, () => ctx.edge.post(body)));
    const statuses = responses.map((response) => response.status);
    assert.equal(statuses.filter((status) => status === 200).length >= 1, true);
    assert.ok(statuses.every((status) => status === 200 || status === 503), String(statuses));
    for (const response of responses.filter((response) => response.status === 503)) {
      assert.equal(response.headers.get("retry-after"), "5");
    }
    // ThreeTone retries the 503s later: they are acknowledged without a second forward.
    const retry = await ctx.edge.post(body);
    assert.deepEqual(await retry.json(), { status: "duplicate" });
    assert.equal(ctx.origin.received.filter((request) => request.sha256 === sha256(Buffer.from(body))).length, 1);
    ctx.origin.answer(() => ({ status: 200 }));
  });

  test("after a failed delivery, the retry is forwarded", async () => {
    ctx.origin.answer(() => ({ status: 503 }));
    const body = event();
    assert.equal((await ctx.edge.post(body)).status, 502);
    ctx.origin.answer(() => ({ status: 200 }));
    const retry = await ctx.edge.post(body);
    assert.equal(retry.status, 200);
    assert.deepEqual(await retry.json(), { status: "delivered", origin_status: 200 });
    assert.equal(ctx.origin.received.filter((request) => request.sha256 === sha256(Buffer.from(body))).length, 2);
  });
});

describe("idempotency entries expire", () => {
  test("after IDEMPOTENCY_TTL_SECONDS the same event is refused as stale, never forwarded again", async () => {
    await withEdge({ IDEMPOTENCY_TTL_SECONDS: "1" }, async (origin, edge) => {
      const body = event();
      assert.equal((await edge.post(body)).status, 200);
      assert.deepEqual(await (await edge.post(body)).json(), { status: "duplicate" });
      await sleep(2100);
      const replayed = await edge.post(body);
      assert.equal(replayed.status, 400);
      assert.equal((await replayed.json()).error, "timestamp_too_old");
      assert.equal(origin.received.length, 1);
    });
  });

  test("with MAX_EVENT_AGE_SECONDS=off it is forwarded again, and /health flags the Worker as replayable", async () => {
    await withEdge({ IDEMPOTENCY_TTL_SECONDS: "1", MAX_EVENT_AGE_SECONDS: "off" }, async (origin, edge) => {
      const body = event();
      assert.equal((await edge.post(body)).status, 200);
      await sleep(1100);
      assert.deepEqual(await (await edge.post(body)).json(), { status: "delivered", origin_status: 200 });
      assert.equal(origin.received.length, 2);
      const health = await (await edge.fetch("/health")).json();
      assert.equal(health.status, "ok");
      const flagged = health.problems.find((problem) => problem.variable === "MAX_EVENT_AGE_SECONDS");
      assert.equal(flagged?.severity, "warning");
      assert.match(flagged.reason, /replay/);
    });
  });
});

describe("flood protection", () => {
  const ctx = setup((origin) => baseVars(origin, { RATE_LIMIT_FAILURES: "3", RATE_LIMIT_WINDOW_SECONDS: "60" }));

  test("an address that keeps failing gets 429; verified traffic still passes", async () => {
    const attacker = "198.51.100.66";
    const forged = event();
    const statuses = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await ctx.edge.post(forged, { signature: sign(forged, "guess"), client: attacker })).status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 429, 429, 429]);
    const limited = await ctx.edge.post(forged, { signature: sign(forged, "guess"), client: attacker });
    assert.ok(Number(limited.headers.get("retry-after")) > 0);
    assert.equal((await ctx.edge.post(event(), { client: "192.0.2.10" })).status, 200);
    assert.equal((await ctx.edge.post(event(), { client: attacker })).status, 200);
    assert.equal(ctx.origin.received.length, 2);
  });
});

describe("admin endpoints", () => {
  const ctx = setup();
  const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };

  test("/health reports the configuration without secrets", async () => {
    const response = await ctx.edge.fetch("/health");
    assert.equal(response.status, 200);
    const health = await response.json();
    assert.equal(health.status, "ok");
    assert.equal(health.routes[0].secrets, 1);
    assert.match(health.version, /^\d+\.\d+\.\d+/);
    assert.ok(!JSON.stringify(health).includes(SECRET) && !JSON.stringify(health).includes(ADMIN_TOKEN));
  });

  test("/test and /logs need the admin token", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: ADMIN_TOKEN }]) {
      assert.equal((await ctx.edge.fetch("/logs", { headers })).status, 401);
      const test = await ctx.edge.fetch("/test", { method: "POST", headers, body: '{"event_type":"call_started"}' });
      assert.equal(test.status, 401);
    }
    assert.equal(ctx.origin.received.length, 0);
  });

  test("/test sends a signed sample through the pipeline; /logs shows the deliveries", async () => {
    const response = await ctx.edge.fetch("/test", {
      method: "POST",
      headers: bearer,
      body: JSON.stringify({ event_type: "escalation_triggered" }),
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: "delivered", origin_status: 200 });
    const sample = ctx.origin.received.at(-1);
    assert.equal(sample.headers["x-threetone-signature"], sign(sample.body));
    assert.equal(JSON.parse(sample.body).event, "escalation_triggered");

    const unknown = await ctx.edge.fetch("/test", { method: "POST", headers: bearer, body: '{"event_type":"nope"}' });
    assert.equal(unknown.status, 400);

    ctx.origin.answer(() => ({ status: 500 }));
    await ctx.edge.post(event("call_ended"));
    ctx.origin.answer(() => ({ status: 200 }));

    // Delivery records are written after the answer is sent.
    let logs;
    for (let i = 0; i < 50; i++) {
      logs = await (await ctx.edge.fetch("/logs", { headers: bearer })).json();
      if (logs.recent_deliveries.length >= 2) break;
      await sleep(50);
    }
    assert.equal(logs.webhook_id, "threetone-edge");
    const [failed, success] = logs.recent_deliveries;
    assert.equal(success.event, "escalation_triggered");
    assert.equal(success.status, "success");
    assert.equal(success.response_code, 200);
    assert.equal(typeof success.delivery_time_ms, "number");
    assert.match(success.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(failed.event, "call_ended");
    assert.equal(failed.status, "failed");
    assert.equal(failed.response_code, 502);
    assert.equal(failed.error, "origin_error");
    assert.equal(failed.retry_count, 0);
  });

  test("/logs gathers the deliveries of every idempotency shard", async () => {
    // 24 events spread over the 16 shards by their signatures' last digit.
    const ids = Array.from({ length: 24 }, (_, i) => `logs-${i}-${Math.random().toString(36).slice(2)}`);
    const bodies = ids.map((id) => event("call_ended", { id }));
    for (const body of bodies) assert.equal((await ctx.edge.post(body)).status, 200);
    const shards = new Set(bodies.map((body) => sign(body).at(-1)));
    assert.ok(shards.size >= 8, `only ${shards.size} shards used`);
    let logged = [];
    for (let i = 0; i < 50 && !ids.every((id) => logged.includes(id)); i++) {
      const logs = await (await ctx.edge.fetch("/logs", { headers: bearer })).json();
      logged = logs.recent_deliveries.map((delivery) => delivery.call_id?.replace(/^call_/, ""));
      await sleep(50);
    }
    for (const id of ids) assert.ok(logged.includes(id), `${id} missing from /logs`);
  });

  test("/logs counts an event's deliveries in retry_count and keeps the newest 100", async () => {
    const logged = async (until) => {
      for (let i = 0; i < 50; i++) {
        const { recent_deliveries } = await (await ctx.edge.fetch("/logs", { headers: bearer })).json();
        if (until(recent_deliveries)) return recent_deliveries;
        await sleep(50);
      }
      assert.fail("/logs never showed the expected deliveries");
    };
    const id = `retried-${Math.random().toString(36).slice(2)}`;
    const body = event("call_ended", { id });
    ctx.origin.answer(() => ({ status: 500 }));
    assert.equal((await ctx.edge.post(body)).status, 502);
    ctx.origin.answer(() => ({ status: 200 }));
    assert.equal((await ctx.edge.post(body)).status, 200);
    assert.equal((await ctx.edge.post(body)).status, 200);
    const ofEvent = (deliveries) => deliveries.filter((delivery) => delivery.call_id === `call_${id}`);
    const deliveries = ofEvent(await logged((all) => ofEvent(all).length === 3));
    // Newest first: the duplicate, the delivery, the failure.
    assert.deepEqual(
      deliveries.map((delivery) => [delivery.status, delivery.retry_count]),
      [["duplicate", 2], ["success", 1], ["failed", 0]],
    );

    const ids = Array.from({ length: 110 }, (_, i) => `many-${i}-${Math.random().toString(36).slice(2)}`);
    for (const each of ids) assert.equal((await ctx.edge.post(event("call_ended", { id: each }))).status, 200);
    const newest = ids.slice(10).map((each) => `call_${each}`);
    const shown = await logged((all) => newest.every((callId) => all.some((delivery) => delivery.call_id === callId)));
    // All of the newest 100, so nothing older (shards' entries logged in the
    // same millisecond may come in either order, so order is not asserted here).
    assert.equal(shown.length, 100);
    assert.ok(!shown.some((delivery) => delivery.call_id === `call_${ids[0]}`));
  });

  test("without ADMIN_TOKEN the admin endpoints are disabled", async () => {
    const edge = await startWorker(baseVars(ctx.origin, { ADMIN_TOKEN: undefined }));
    try {
      assert.equal((await edge.fetch("/logs", { headers: bearer })).status, 403);
      assert.equal((await edge.fetch("/test", { method: "POST", headers: bearer, body: "{}" })).status, 403);
    } finally {
      await edge.dispose();
    }
  });
});

describe("the Worker's own logs", () => {
  test("hold one JSON line per request, with no secret and no body", () => {
    const lines = workerOutput.filter((line) => line.includes('"outcome"'));
    assert.ok(lines.length >= 20, `only ${lines.length} log lines captured`);
    for (const line of lines) {
      const record = JSON.parse(line.slice(line.indexOf("{")));
      assert.equal(typeof record.outcome, "string");
      assert.equal(typeof record.latency_ms, "number");
    }
    const everything = workerOutput.join("\n");
    for (const secret of [SECRET, ADMIN_TOKEN, "whsec_old_1_4f9a2c7e", "origin_shared_secret", BODY_MARKER, "Customer inquiry"]) {
      assert.ok(!everything.includes(secret), `logs contain ${secret}`);
    }
  });
});

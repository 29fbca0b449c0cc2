// Regression tests of the security review (issue "Hardening"), in workerd:
// each defect as it was reproduced, and what the Worker does now.

import assert from "node:assert/strict";
import http from "node:http";
import { describe, test } from "node:test";

import { ADMIN_TOKEN, SECRET, baseVars, event, nowTimestamp, sha256, sign, sleep, startOrigin, withEdge } from "./harness.mjs";

const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** `/logs` once it holds what `until` wants. */
async function logsUntil(edge, until) {
  for (let i = 0; i < 60; i++) {
    const logs = await (await edge.fetch("/logs", { headers: bearer })).json();
    if (until(logs)) return logs;
    await sleep(50);
  }
  assert.fail("/logs never showed what was expected");
}

describe("secrets", () => {
  test("a comma no longer splits a previous secret: a comma-joined short fragment fails closed", async () => {
    await withEdge({ WEBHOOK_SECRETS_PREVIOUS: "whsec_rotated_Q9v7,x" }, async (origin, edge) => {
      const body = event();
      const response = await edge.post(body, { signature: sign(body, "x") });
      assert.equal(response.status, 503);
      assert.deepEqual(await response.json(), { error: "not_configured" });
      const health = await edge.fetch("/health");
      assert.equal(health.status, 503);
      const { problems } = await health.json();
      assert.deepEqual(
        problems.map(({ variable, severity }) => [variable, severity]),
        [["WEBHOOK_SECRETS_PREVIOUS", "error"]],
      );
      assert.ok(!JSON.stringify(problems).includes("whsec_rotated_Q9v7"));
      assert.equal(origin.received.length, 0);
    });
  });

  test("a previous secret with a comma, in its own binding, is one secret", async () => {
    const previous = "whsec_rotated_Q9v7,x";
    await withEdge({ WEBHOOK_SECRET_PREVIOUS: previous }, async (origin, edge) => {
      const body = event();
      assert.equal((await edge.post(body, { signature: sign(body, "x") })).status, 401);
      assert.equal((await edge.post(body, { signature: sign(body, previous) })).status, 200);
      assert.equal(origin.received.length, 1);
    });
  });

  test("secrets shorter than 16 bytes are flagged on /health and still work", async () => {
    await withEdge({ WEBHOOK_SECRET: "whsec_short", WEBHOOK_SECRET_PREVIOUS_2: "tiny" }, async (origin, edge) => {
      const health = await (await edge.fetch("/health")).json();
      assert.equal(health.status, "ok");
      assert.equal(health.routes[0].secrets, 2);
      assert.deepEqual(
        health.problems.map(({ variable, severity }) => [variable, severity]),
        [["WEBHOOK_SECRET", "warning"], ["WEBHOOK_SECRET_PREVIOUS_2", "warning"]],
      );
      const body = event();
      assert.equal((await edge.post(body, { signature: sign(body, "tiny") })).status, 200);
    });
  });
});

describe("replays", () => {
  test("by default an event older than the idempotency TTL is refused, and the refusal is in /logs", async () => {
    await withEdge({}, async (origin, edge) => {
      const id = `stale-${Math.random().toString(36).slice(2)}`;
      const captured = event("call_ended", { id, timestamp: nowTimestamp(-86_401) });
      const response = await edge.post(captured);
      assert.equal(response.status, 400);
      assert.equal((await response.json()).error, "timestamp_too_old");
      const ahead = await edge.post(event("call_ended", { timestamp: nowTimestamp(86_460) }));
      assert.equal((await ahead.json()).error, "timestamp_in_future");
      assert.equal((await edge.post(event("call_ended", { timestamp: nowTimestamp(-86_000) }))).status, 200);
      assert.equal(origin.received.length, 1);
      const logs = await logsUntil(edge, (logs) => logs.recent_deliveries.some((entry) => entry.call_id === `call_${id}`));
      const refused = logs.recent_deliveries.find((entry) => entry.call_id === `call_${id}`);
      assert.deepEqual([refused.status, refused.error, refused.response_code], ["rejected", "timestamp_too_old", 400]);
      const health = await (await edge.fetch("/health")).json();
      assert.deepEqual(health.problems, []);
    });
  });

  test("a redelivery signed with a rotated secret is a duplicate, and every delivery carries the same Delivery-Id", async () => {
    const rotated = "whsec_rotated_secret_8d1f";
    await withEdge({ WEBHOOK_SECRET_PREVIOUS: rotated }, async (origin, edge) => {
      const body = event();
      origin.answer(() => ({ status: 500 }));
      assert.equal((await edge.post(body)).status, 502);
      origin.answer(() => ({ status: 200 }));
      assert.equal((await edge.post(body, { signature: sign(body, rotated) })).status, 200);
      const again = await edge.post(body);
      assert.deepEqual([again.status, await again.json()], [200, { status: "duplicate" }]);
      const again2 = await edge.post(body, { signature: sign(body, rotated) });
      assert.deepEqual(await again2.json(), { status: "duplicate" });
      assert.equal(origin.received.length, 2);
      const [first, second] = origin.received.map((request) => request.headers["x-threetone-delivery-id"]);
      assert.match(first, /^dlv_[0-9a-f]{32}$/);
      assert.equal(second, first);
      assert.notEqual((await deliveredId(edge, origin, event())), first);
    });
  });
});

/** The Delivery-Id the origin receives for `body`. */
async function deliveredId(edge, origin, body) {
  assert.equal((await edge.post(body)).status, 200);
  return origin.received.at(-1).headers["x-threetone-delivery-id"];
}

test("an event name that is no header value is delivered, without X-ThreeTone-Event", async () => {
  await withEdge({}, async (origin, edge) => {
    const body = JSON.stringify({ event: "call\u0001started", timestamp: nowTimestamp(), data: { call_id: "c1" } });
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await edge.post(body);
      assert.equal(response.status, 200, `attempt ${attempt}`);
    }
    assert.equal(origin.received.length, 1);
    assert.equal(origin.received[0].headers["x-threetone-event"], undefined);
    assert.equal(origin.received[0].sha256, sha256(Buffer.from(body)));
  });
});

test("flood protection counts an IPv6 /64 as one address", async () => {
  await withEdge({ RATE_LIMIT_FAILURES: "3" }, async (origin, edge) => {
    const forged = event();
    const guess = sign(forged, "guess");
    const statuses = [];
    for (const client of ["2001:db8:7:1::1", "2001:db8:7:1::2", "2001:db8:7:1:ffff::9", "2001:db8:7:1::abcd", "2001:db8:7:1::1"]) {
      statuses.push((await edge.post(forged, { signature: guess, client })).status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
    assert.equal((await edge.post(forged, { signature: guess, client: "2001:db8:7:2::1" })).status, 401);
    assert.equal((await edge.post(event(), { client: "2001:db8:7:1::1" })).status, 200);
  });
});

describe("admin endpoints", () => {
  test("failed logins are counted per address: past the limit even the right token gets 429", async () => {
    await withEdge({ RATE_LIMIT_FAILURES: "3" }, async (origin, edge) => {
      const attacker = { "cf-connecting-ip": "198.51.100.23" };
      const statuses = [];
      for (let i = 0; i < 5; i++) {
        statuses.push((await edge.fetch("/logs", { headers: { ...attacker, authorization: `Bearer guess-${i}` } })).status);
      }
      assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
      const right = await edge.fetch("/logs", { headers: { ...attacker, ...bearer } });
      assert.equal(right.status, 429);
      assert.ok(Number(right.headers.get("retry-after")) > 0);
      assert.equal((await edge.fetch("/logs", { headers: { "cf-connecting-ip": "198.51.100.24", ...bearer } })).status, 200);
    });
  });

  test("the Bearer scheme is accepted in any case", async () => {
    await withEdge({}, async (origin, edge) => {
      for (const scheme of ["Bearer", "bearer", "BEARER"]) {
        assert.equal((await edge.fetch("/logs", { headers: { authorization: `${scheme} ${ADMIN_TOKEN}` } })).status, 200, scheme);
      }
    });
  });

  test("an ADMIN_TOKEN shorter than 32 characters disables the admin endpoints and is reported", async () => {
    const short = "a_token_of_31_characters_long_x";
    assert.equal(short.length, 31);
    await withEdge({ ADMIN_TOKEN: short }, async (origin, edge) => {
      assert.equal((await edge.fetch("/logs", { headers: { authorization: `Bearer ${short}` } })).status, 403);
      const health = await (await edge.fetch("/health")).json();
      assert.equal(health.admin, false);
      assert.deepEqual(health.problems.map(({ variable, severity }) => [variable, severity]), [["ADMIN_TOKEN", "warning"]]);
      assert.ok(!JSON.stringify(health).includes(short));
    });
  });

  test("/test samples are marked X-ThreeTone-Edge-Test; ThreeTone's events are not", async () => {
    await withEdge({}, async (origin, edge) => {
      const sample = await edge.fetch("/test", { method: "POST", headers: bearer, body: '{"event_type":"call_started"}' });
      assert.equal(sample.status, 200);
      assert.equal(origin.received[0].headers["x-threetone-edge-test"], "1");
      assert.equal((await edge.post(event())).status, 200);
      assert.equal(origin.received[1].headers["x-threetone-edge-test"], undefined);
    });
  });
});

describe("origin 4xx answers", () => {
  test("are passed back cut at 4 KiB, with their Content-Type", async () => {
    await withEdge({}, async (origin, edge) => {
      origin.answer(() => ({ status: 422, body: "r".repeat(1024 * 1024) }));
      const response = await edge.post(event());
      assert.equal(response.status, 422);
      assert.equal(response.headers.get("content-type"), "text/plain");
      assert.equal((await response.text()).length, 4096);
    });
  });

  test("are read within the timeout: a body that stalls is a timeout (504), retried by the sender", async () => {
    const stalled = [];
    const server = http.createServer((request, response) => {
      request.resume();
      request.on("end", () => {
        response.writeHead(409, { "content-type": "application/json" });
        response.write('{"error":');
        stalled.push(response);
      });
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const origin = { url: `http://127.0.0.1:${server.address().port}/hook` };
    try {
      await withEdge({ ORIGIN_URL: origin.url, ORIGIN_TIMEOUT_MS: "500" }, async (_, edge) => {
        const started = Date.now();
        const response = await edge.post(event());
        assert.equal(response.status, 504);
        assert.ok(Date.now() - started < 5000, `answered after ${Date.now() - started} ms`);
      });
    } finally {
      for (const response of stalled) response.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

test("numeric variables are range-checked: a huge ORIGIN_TIMEOUT_MS is clamped and reported, forwards still wait", async () => {
  await withEdge({ ORIGIN_TIMEOUT_MS: "2147483648" }, async (origin, edge) => {
    origin.answer(() => ({ status: 200, delayMs: 300 }));
    const response = await edge.post(event());
    assert.deepEqual([response.status, await response.json()], [200, { status: "delivered", origin_status: 200 }]);
    const health = await (await edge.fetch("/health")).json();
    assert.equal(health.status, "ok");
    const clamped = health.problems.find((problem) => problem.variable === "ORIGIN_TIMEOUT_MS");
    assert.equal(clamped?.severity, "warning");
    assert.match(clamped.reason, /100 to 60000/);
  });
});

test("the secret never appears in /health, whatever is wrong", async () => {
  await withEdge({ MAX_BODY_BYTES: "lots", WEBHOOK_SECRET_PREVIOUS: "short" }, async (origin, edge) => {
    const text = await (await edge.fetch("/health")).text();
    for (const value of [SECRET, "short\"", ADMIN_TOKEN]) assert.ok(!text.includes(value), value);
  });
});

test("a rejected event's message quotes at most 64 characters of the body", async () => {
  await withEdge({ ON_INVALID_PAYLOAD: "reject" }, async (origin, edge) => {
    const body = JSON.parse(event("call_started"));
    body.data.direction = "d".repeat(100_000);
    const response = await edge.post(JSON.stringify(body));
    assert.equal(response.status, 400);
    const text = await response.text();
    // The message and the record's `found` each quote 64 characters at most.
    assert.ok(text.length < 700, `${text.length} bytes`);
    const answer = JSON.parse(text);
    assert.match(answer.message, /"d{64}"… \(100000 characters\)/);
    assert.match(answer.found, /^string "d{64}"… \(100000 characters\)$/);
  });
});

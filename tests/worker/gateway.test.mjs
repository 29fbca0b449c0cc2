// The gateway in workerd: several routes, each with its own secrets, fanning
// out to several destinations, exactly once each, with caps, a circuit
// breaker and pause/resume. Origins are real servers on 127.0.0.1.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ADMIN_TOKEN, SECRET, event, nowTimestamp, sha256, sign, sleep, startOrigin, startWorker } from "./harness.mjs";
import { deliver } from "./simulator.mjs";

const SECOND_SECRET = "whsec_second_route_7a1c9e2b";
const CRM_SIGNING_SECRET = "whsec_crm_signing_3f8d0c";
const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** The Worker with `routes(origins)` as ROUTES (a JSON binding, as a TOML table gives). */
async function withGateway(count, routes, fn, extra = {}) {
  const origins = await Promise.all(Array.from({ length: count }, () => startOrigin()));
  const edge = await startWorker({
    WEBHOOK_SECRET: SECRET,
    SECOND_SECRET,
    CRM_SIGNING_SECRET,
    ALLOW_INSECURE_ORIGIN: "true",
    ADMIN_TOKEN,
    ROUTES: routes(origins),
    ...extra,
  });
  try {
    return await fn(edge, origins);
  } finally {
    await edge.dispose();
    await Promise.all(origins.map((origin) => origin.close()));
  }
}

/** POSTs `body` to `path` as ThreeTone would. */
function post(edge, path, body, { secret = SECRET, client = "203.0.113.9" } = {}) {
  return edge.fetch(path, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "x-threetone-signature": sign(body, secret), "cf-connecting-ip": client },
  });
}

const received = (origin, body) => origin.received.filter((request) => request.sha256 === sha256(Buffer.from(body))).length;

const twoRoutes = ([crm, ops, archive]) => [
  {
    path: "/webhooks/threetone",
    secrets: ["WEBHOOK_SECRET"],
    events: ["call_started", "call_ended", "system_error"],
    destinations: [
      { name: "crm", url: crm.url, events: ["call_started", "call_ended"], signing_secret: "CRM_SIGNING_SECRET" },
      { name: "ops", url: ops.url, events: ["call_ended", "system_error"] },
    ],
  },
  { path: "/webhooks/second", secrets: ["SECOND_SECRET"], destinations: [{ name: "archive", url: archive.url }] },
];

describe("routes and fan-out", () => {
  test("two routes with different secrets: each refuses the other's", async () => {
    await withGateway(3, twoRoutes, async (edge, [crm, ops, archive]) => {
      const body = event("call_started");
      assert.equal((await post(edge, "/webhooks/second", body)).status, 401);
      assert.equal((await post(edge, "/webhooks/threetone", body, { secret: SECOND_SECRET })).status, 401);
      assert.equal((await post(edge, "/webhooks/second", body, { secret: SECOND_SECRET })).status, 200);
      assert.equal((await post(edge, "/webhooks/threetone", body)).status, 200);
      assert.deepEqual([received(crm, body), received(ops, body), received(archive, body)], [1, 0, 1]);
    });
  });

  test("each destination gets the exact bytes, its own headers, and only the events it takes", async () => {
    await withGateway(3, twoRoutes, async (edge, [crm, ops]) => {
      const ended = event("call_ended");
      const response = await post(edge, "/webhooks/threetone", ended);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), {
        status: "delivered",
        destinations: { crm: { status: "delivered", origin_status: 200 }, ops: { status: "delivered", origin_status: 200 } },
      });
      const [atCrm, atOps] = [crm.received[0], ops.received[0]];
      for (const [request, name] of [[atCrm, "crm"], [atOps, "ops"]]) {
        assert.equal(request.sha256, sha256(Buffer.from(ended)));
        assert.equal(request.headers["x-threetone-signature"], sign(ended));
        assert.equal(request.headers["x-threetone-destination"], name);
        assert.equal(request.headers["x-threetone-event"], "call_ended");
        assert.match(request.headers["x-threetone-delivery-id"], /^dlv_[0-9a-f]{32}$/);
      }
      assert.notEqual(atCrm.headers["x-threetone-delivery-id"], atOps.headers["x-threetone-delivery-id"]);
      assert.equal(atCrm.headers["x-threetone-edge-signature"], sign(ended, CRM_SIGNING_SECRET));
      assert.equal(atOps.headers["x-threetone-edge-signature"], undefined);

      const error = JSON.stringify({ event: "system_error", timestamp: nowTimestamp(), data: { error_code: "asr_down", call_id: "c1" } });
      assert.equal((await post(edge, "/webhooks/threetone", error)).status, 200);
      assert.deepEqual([received(crm, error), received(ops, error)], [0, 1]);
      // Not among the route's events: acknowledged, sent nowhere.
      const busy = JSON.stringify({ event: "agent_busy", timestamp: nowTimestamp(), data: { agent_id: "a1" } });
      const ignored = await post(edge, "/webhooks/threetone", busy);
      assert.deepEqual([ignored.status, await ignored.json()], [200, { status: "ignored" }]);
      assert.deepEqual([crm.received.length, ops.received.length], [1, 2]);
    });
  });

  test("one destination failing while another succeeds: the retry reaches only the one that failed", async () => {
    await withGateway(3, twoRoutes, async (edge, [crm, ops]) => {
      const body = event("call_ended");
      ops.answer(() => ({ status: 500 }));
      const failed = await post(edge, "/webhooks/threetone", body);
      assert.equal(failed.status, 502);
      const answer = await failed.json();
      assert.equal(answer.error, "origin_error");
      assert.deepEqual(answer.destinations.crm, { status: "delivered", origin_status: 200 });
      assert.deepEqual(answer.destinations.ops, { error: "origin_error", origin_status: 500 });
      ops.answer(() => ({ status: 200 }));
      const retried = await post(edge, "/webhooks/threetone", body);
      assert.equal(retried.status, 200);
      assert.deepEqual((await retried.json()).destinations, { crm: { status: "duplicate" }, ops: { status: "delivered", origin_status: 200 } });
      assert.deepEqual([received(crm, body), received(ops, body)], [1, 2]);
      const fully = await post(edge, "/webhooks/threetone", body);
      assert.deepEqual([fully.status, (await fully.json()).status], [200, "duplicate"]);
      assert.deepEqual([received(crm, body), received(ops, body)], [1, 2]);
      // Both ops requests carried the same Delivery-Id.
      const ids = ops.received.map((request) => request.headers["x-threetone-delivery-id"]);
      assert.equal(new Set(ids).size, 1);
    });
  });

  test("a redelivery signed with a rotated secret is a duplicate at every destination", async () => {
    const routes = ([crm, ops]) => [
      {
        path: "/webhooks/threetone",
        secrets: ["WEBHOOK_SECRET", "SECOND_SECRET"],
        destinations: [{ name: "crm", url: crm.url }, { name: "ops", url: ops.url }],
      },
    ];
    await withGateway(2, routes, async (edge, [crm, ops]) => {
      const body = event("call_ended");
      assert.equal((await post(edge, "/webhooks/threetone", body, { secret: SECOND_SECRET })).status, 200);
      const again = await post(edge, "/webhooks/threetone", body);
      assert.deepEqual([again.status, (await again.json()).status], [200, "duplicate"]);
      assert.deepEqual([received(crm, body), received(ops, body)], [1, 1]);
    });
  });
});

test("a bad route is reported with JSON paths and fails closed; the valid route keeps working", async () => {
  const routes = ([good, bad]) => [
    { path: "/webhooks/good", secrets: ["WEBHOOK_SECRET"], destinations: [{ name: "good", url: good.url }] },
    {
      path: "/webhooks/bad",
      secrets: ["WEBHOOK_SECRET", "NOT_BOUND"],
      events: ["call_startd"],
      destinations: [
        { name: "good", url: "http://127.0.0.1:9/" },
        { name: "tls", url: bad.url.replace("http:", "ftp:") },
      ],
    },
  ];
  await withGateway(2, routes, async (edge, [good, bad]) => {
    const body = event();
    assert.equal((await post(edge, "/webhooks/good", body)).status, 200);
    const refused = await post(edge, "/webhooks/bad", body);
    assert.equal(refused.status, 503);
    assert.ok(Number(refused.headers.get("retry-after")) > 0);
    assert.equal(received(good, body), 1);
    assert.equal(bad.received.length, 0);
    const response = await edge.fetch("/health");
    assert.equal(response.status, 200);
    const health = await response.json();
    assert.equal(health.status, "degraded");
    assert.deepEqual(health.routes.map((route) => [route.path, route.usable]), [["/webhooks/good", true], ["/webhooks/bad", false]]);
    const problems = health.problems.map((problem) => `${problem.variable} ${problem.path}: ${problem.reason}`);
    for (const expected of [
      "ROUTES $[1].secrets[1]: no secret is bound to NOT_BOUND (wrangler secret put NOT_BOUND)",
      'ROUTES $[1].events[0]: "call_startd" is not an event type',
      "ROUTES $[1].destinations[0].name: another destination has this name (names are unique across routes)",
      "ROUTES $[1].destinations[1].url: must be an https URL",
    ]) {
      assert.ok(problems.includes(expected), `${expected} not in ${JSON.stringify(problems, null, 1)}`);
    }
    assert.ok(!JSON.stringify(health).includes(SECRET));
  });
});

test("ROUTES that is not JSON: every webhook request fails closed", async () => {
  await withGateway(1, () => "[{not json", async (edge) => {
    const response = await post(edge, "/webhooks/threetone", event());
    assert.equal(response.status, 503);
    const health = await (await edge.fetch("/health")).json();
    assert.equal(health.status, "not_configured");
    assert.equal(health.problems[0].variable, "ROUTES");
  });
});

describe("destination protection", () => {
  test("max_in_flight: 20 concurrent events never exceed it at the origin; each arrives once", async () => {
    const routes = ([origin]) => [{ path: "/hook", secrets: ["WEBHOOK_SECRET"], destinations: [{ name: "slow", url: origin.url, max_in_flight: 3 }] }];
    await withGateway(1, routes, async (edge, [origin]) => {
      let current = 0;
      let most = 0;
      origin.answer(async () => {
        most = Math.max(most, ++current);
        await sleep(150);
        current -= 1;
        return { status: 200 };
      });
      const bodies = Array.from({ length: 20 }, () => event());
      const sender = { retryConfig: { max_retries: 40, retry_delay: 1, exponential_backoff: false, max_delay: 1, retry_on_status: [503] }, msPerSecond: 100 };
      const results = await Promise.all(bodies.map((body) => deliver((b) => post(edge, "/hook", b), body, sign(body), sender)));
      assert.ok(results.every((result) => result.status === 200), JSON.stringify(results));
      assert.ok(most <= 3, `${most} at once`);
      assert.ok(results.some((result) => result.attempts > 1), "nothing was held");
      for (const body of bodies) assert.equal(received(origin, body), 1);
    });
  });

  test("max_per_second: a 3 s burst is spread out, nothing lost or doubled", async () => {
    const routes = ([origin]) => [{ path: "/hook", secrets: ["WEBHOOK_SECRET"], destinations: [{ name: "capped", url: origin.url, max_per_second: 4 }] }];
    await withGateway(1, routes, async (edge, [origin]) => {
      const arrivals = [];
      origin.answer(() => {
        arrivals.push(Date.now());
        return { status: 200 };
      });
      const bodies = Array.from({ length: 12 }, () => event());
      const sender = { retryConfig: { max_retries: 80, retry_delay: 1, exponential_backoff: false, max_delay: 1, retry_on_status: [503] }, msPerSecond: 100 };
      const held = [];
      const results = await Promise.all(
        bodies.map((body) =>
          deliver(
            async (b) => {
              const response = await post(edge, "/hook", b);
              if (response.status === 503) held.push((await response.clone().json()).error);
              return response;
            },
            body,
            sign(body),
            sender,
          ),
        ),
      );
      assert.ok(results.every((result) => result.status === 200));
      for (const body of bodies) assert.equal(received(origin, body), 1);
      assert.ok(held.length > 0 && held.every((reason) => reason === "max_per_second"), JSON.stringify(held));
      // 12 deliveries at 4 per second need three one-second windows.
      assert.ok(arrivals.at(-1) - arrivals[0] > 1000, `spread over ${arrivals.at(-1) - arrivals[0]} ms`);
      const perSecond = new Map();
      for (const at of arrivals) perSecond.set(Math.floor(at / 1000), (perSecond.get(Math.floor(at / 1000)) ?? 0) + 1);
      assert.ok([...perSecond.values()].every((count) => count <= 5), JSON.stringify([...perSecond]));
    });
  });

  test("the breaker opens after consecutive failures, fails fast, half-opens after its cool-down and closes", async () => {
    const routes = ([origin]) => [{ path: "/hook", secrets: ["WEBHOOK_SECRET"], destinations: [{ name: "flaky", url: origin.url }] }];
    const vars = { BREAKER_FAILURES: "3", BREAKER_COOLDOWN_SECONDS: "2" };
    await withGateway(
      1,
      routes,
      async (edge, [origin]) => {
        origin.answer(() => ({ status: 500 }));
        for (let i = 0; i < 3; i++) assert.equal((await post(edge, "/hook", event())).status, 502);
        assert.equal(origin.received.length, 3);
        // Open: answered without calling the origin.
        const fast = await post(edge, "/hook", event());
        assert.equal(fast.status, 503);
        assert.equal((await fast.json()).error, "breaker_open");
        assert.ok(Number(fast.headers.get("retry-after")) >= 1);
        assert.equal(origin.received.length, 3);
        const state = await (await edge.fetch("/destinations", { headers: bearer })).json();
        assert.deepEqual(state.destinations.map(({ name, breaker }) => [name, breaker]), [["flaky", "open"]]);
        // After the cool-down, one probe; it fails: open again.
        await sleep(2100);
        assert.equal((await post(edge, "/hook", event())).status, 502);
        assert.equal(origin.received.length, 4);
        assert.equal((await post(edge, "/hook", event())).status, 503);
        // The next probe succeeds: closed, traffic flows.
        origin.answer(() => ({ status: 200 }));
        await sleep(2100);
        assert.equal((await post(edge, "/hook", event())).status, 200);
        assert.equal((await post(edge, "/hook", event())).status, 200);
        assert.equal(origin.received.length, 6);
        const closed = await (await edge.fetch("/destinations", { headers: bearer })).json();
        assert.equal(closed.destinations[0].breaker, "closed");
      },
      vars,
    );
  });

  for (const mode of ["direct", "queue"]) {
    test(`${mode} mode: pause holds deliveries, resume delivers each exactly once`, { timeout: 60_000 }, async () => {
      const routes = ([a, b]) => [
        { path: "/hook", secrets: ["WEBHOOK_SECRET"], destinations: [{ name: "held", url: a.url }, { name: "open", url: b.url }] },
      ];
      await withGateway(
        2,
        routes,
        async (edge, [held, open]) => {
          assert.equal((await edge.fetch("/destinations/held/pause", { method: "POST" })).status, 401);
          const paused = await edge.fetch("/destinations/held/pause", { method: "POST", headers: bearer });
          assert.deepEqual(await paused.json(), { destination: "held", paused: true, changed: true });
          assert.equal((await edge.fetch("/destinations/nope/pause", { method: "POST", headers: bearer })).status, 404);
          const body = event();
          const first = await post(edge, "/hook", body);
          if (mode === "direct") {
            assert.equal(first.status, 503);
            const answer = await first.json();
            assert.equal(answer.error, "destination_paused");
            assert.deepEqual(answer.destinations.open, { status: "delivered", origin_status: 200 });
            assert.ok(Number(first.headers.get("retry-after")) > 0);
          } else {
            assert.equal(first.status, 202);
          }
          await sleep(1500);
          assert.deepEqual([received(held, body), received(open, body)], [0, 1]);
          const state = await (await edge.fetch("/destinations", { headers: bearer })).json();
          assert.deepEqual(state.destinations.map(({ name, paused }) => [name, paused]), [["held", true], ["open", false]]);
          assert.equal((await edge.fetch("/destinations/held/resume", { method: "POST", headers: bearer })).status, 200);
          if (mode === "direct") {
            // ThreeTone's retry reaches only the held destination.
            assert.equal((await post(edge, "/hook", body)).status, 200);
          } else {
            // The queue comes back to it: a paused destination's deliveries are tried every 10 s.
            for (let i = 0; i < 150 && received(held, body) === 0; i++) await sleep(100);
          }
          await sleep(500);
          assert.deepEqual([received(held, body), received(open, body)], [1, 1]);
        },
        mode === "queue" ? { DELIVERY_MODE: "queue" } : {},
      );
    });
  }
});

for (const mode of ["direct", "queue"]) {
  test(`${mode} mode, two destinations (one failing 30%, one healthy): each event exactly once at each`, { timeout: 180_000 }, async () => {
    // The flaky destination answers at once (500 or 200), never hangs: a timeout far above its answer
    // time, so no 200 can leave after the edge gave up on it (a duplicate no receiver can avoid).
    const routes = ([flaky, healthy]) => [
      { path: "/hook", secrets: ["WEBHOOK_SECRET"], destinations: [{ name: "flaky", url: flaky.url, timeout_ms: 2000 }, { name: "healthy", url: healthy.url }] },
    ];
    const vars = { DELIVERY_MODE: mode, RETRY_MAX_RETRIES: "20", RETRY_DELAY_SECONDS: "0", BREAKER_COOLDOWN_SECONDS: "1", RATE_LIMIT_FAILURES: "100000" };
    await withGateway(
      2,
      routes,
      async (edge, [flaky, healthy]) => {
        flaky.answer(() => (Math.random() < 0.3 ? { status: 500 } : { status: 200 }));
        const bodies = Array.from({ length: 120 }, () => event());
        const sender = { retryConfig: { max_retries: 12, retry_delay: 5, exponential_backoff: true, max_delay: 300, retry_on_status: [500, 502, 503, 504] }, msPerSecond: 10 };
        let next = 0;
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            while (next < bodies.length) {
              const body = bodies[next++];
              await deliver((b) => post(edge, "/hook", b), body, sign(body), sender);
            }
          }),
        );
        const acknowledged = (origin, body) =>
          origin.received.filter((request) => request.sha256 === sha256(Buffer.from(body)) && request.answered === 200).length;
        const deadline = Date.now() + 60_000;
        while (bodies.some((body) => acknowledged(flaky, body) === 0 || acknowledged(healthy, body) === 0) && Date.now() < deadline) await sleep(100);
        await sleep(1000);
        const lost = bodies.filter((body) => acknowledged(flaky, body) === 0 || acknowledged(healthy, body) === 0).length;
        const doubled = bodies.filter((body) => acknowledged(flaky, body) > 1 || acknowledged(healthy, body) > 1).length;
        assert.deepEqual({ lost, doubled }, { lost: 0, doubled: 0 });
      },
      vars,
    );
  });
}

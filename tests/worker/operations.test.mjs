// Operations in workerd: /metrics parsed by Prometheus's own parser, with
// counts that match what the test sent exactly, across a restart of the
// Durable Objects.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";

import { ADMIN_TOKEN, ROOT, SECRET, baseVars, event, nowTimestamp, sign, sleep, startOrigin, startWorker } from "./harness.mjs";

const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** Prometheus's Python client in a virtualenv of its own, made once. */
function metricsParser() {
  const venv = join(ROOT, "target", "worker-tools", "venv");
  const python = join(venv, "bin", "python");
  if (!existsSync(python)) {
    execFileSync("python3", ["-m", "venv", venv], { stdio: "inherit" });
    const requirements = join(ROOT, "tests", "worker", "requirements.txt");
    execFileSync(python, ["-m", "pip", "install", "--disable-pip-version-check", "--quiet", "-r", requirements], { stdio: "inherit" });
  }
  return (text) => JSON.parse(execFileSync(python, [join(ROOT, "tests", "worker", "parse_metrics.py")], { input: text, encoding: "utf8" }));
}
const parse = metricsParser();

/** `/metrics`, parsed: a function from a sample name and labels to its value. */
async function metrics(edge) {
  const response = await edge.fetch("/metrics", { headers: bearer });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type"), /^text\/plain; version=0\.0\.4/);
  const { families, samples } = parse(await response.text());
  const value = (name, labels = {}) => {
    const found = samples.filter(([sample, sampleLabels]) => sample === name && Object.entries(labels).every(([key, v]) => sampleLabels[key] === v));
    return found.length === 0 ? undefined : found.reduce((sum, [, , v]) => sum + v, 0);
  };
  return { families, value };
}

describe("/metrics", () => {
  test("needs the admin token", async () => {
    const origin = await startOrigin();
    const edge = await startWorker(baseVars(origin));
    try {
      assert.equal((await edge.fetch("/metrics")).status, 401);
    } finally {
      await edge.dispose();
      await origin.close();
    }
  });

  test("counts exactly what was sent, by route, outcome, destination and result, across a restart", async () => {
    const origin = await startOrigin();
    const persist = mkdtempSync(join(tmpdir(), "threetone-edge-metrics-"));
    const vars = baseVars(origin, { ORIGIN_TIMEOUT_MS: "2000" });
    const route = "/webhooks/threetone";
    try {
      let edge = await startWorker(vars, { persist });
      try {
        for (let i = 0; i < 4; i++) assert.equal((await edge.post(event())).status, 200);
        const repeated = event();
        assert.equal((await edge.post(repeated)).status, 200);
        assert.equal((await edge.post(repeated)).status, 200); // a duplicate
        for (let i = 0; i < 3; i++) assert.equal((await edge.post(event(), { signature: sign("x", "guess") })).status, 401);
        assert.equal((await edge.post(event("call_ended", { timestamp: nowTimestamp(-90_000) }))).status, 400);
        origin.answer(() => ({ status: 500 }));
        assert.equal((await edge.post(event())).status, 502);
        origin.answer(() => ({ status: 200, delayMs: 30 }));
        assert.equal((await edge.post(event())).status, 200);
        await sleep(300); // settlements are sent after the answers

        const { families, value } = await metrics(edge);
        assert.equal(families.threetone_edge_requests, "counter");
        assert.equal(families.threetone_edge_delivery_duration_seconds, "histogram");
        assert.equal(families.threetone_edge_breaker_state, "gauge");
        assert.equal(value("threetone_edge_requests_total", { route, outcome: "delivered" }), 6);
        assert.equal(value("threetone_edge_requests_total", { route, outcome: "duplicate" }), 1);
        assert.equal(value("threetone_edge_requests_total", { route, outcome: "invalid_signature" }), 3);
        assert.equal(value("threetone_edge_requests_total", { route, outcome: "timestamp_too_old" }), 1);
        assert.equal(value("threetone_edge_requests_total", { route, outcome: "origin_error" }), 1);
        const destination = "origin";
        assert.equal(value("threetone_edge_deliveries_total", { destination, result: "success" }), 6);
        assert.equal(value("threetone_edge_deliveries_total", { destination, result: "duplicate" }), 1);
        assert.equal(value("threetone_edge_deliveries_total", { destination, result: "failed" }), 1);
        // Seven answers from the origin, the last one after at least 30 ms.
        assert.equal(value("threetone_edge_delivery_duration_seconds_count", { destination }), 7);
        assert.equal(value("threetone_edge_delivery_duration_seconds_bucket", { destination, le: "+Inf" }), 7);
        assert.ok(value("threetone_edge_delivery_duration_seconds_bucket", { destination, le: "0.025" }) <= 6);
        assert.ok(value("threetone_edge_delivery_duration_seconds_sum", { destination }) >= 0.03);
        assert.equal(value("threetone_edge_breaker_state", { destination, state: "closed" }), 1);
        assert.equal(value("threetone_edge_breaker_state", { destination, state: "open" }), 0);
        assert.equal(value("threetone_edge_destination_paused", { destination }), 0);
        assert.equal(value("threetone_edge_in_flight", { destination }), 0);
        assert.equal(value("threetone_edge_info", { version: (await (await edge.fetch("/health")).json()).version }), 1);
      } finally {
        await edge.dispose();
      }
      // The same objects after a restart: nothing lost, nothing counted twice.
      edge = await startWorker(vars, { persist });
      try {
        assert.equal((await edge.post(event())).status, 200);
        await sleep(300);
        const { value } = await metrics(edge);
        assert.equal(value("threetone_edge_requests_total", { route, outcome: "delivered" }), 7);
        assert.equal(value("threetone_edge_requests_total", { route, outcome: "invalid_signature" }), 3);
        assert.equal(value("threetone_edge_deliveries_total", { destination: "origin", result: "success" }), 7);
        assert.equal(value("threetone_edge_delivery_duration_seconds_count", { destination: "origin" }), 8);
      } finally {
        await edge.dispose();
      }
    } finally {
      await origin.close();
      rmSync(persist, { recursive: true, force: true });
    }
  });

  test("queue mode: dead letters, queued and the breaker per destination", { timeout: 60_000 }, async () => {
    const origin = await startOrigin();
    origin.answer(() => ({ status: 500 }));
    const edge = await startWorker(baseVars(origin, { DELIVERY_MODE: "queue", RETRY_MAX_RETRIES: "0", BREAKER_FAILURES: "2" }));
    try {
      for (let i = 0; i < 2; i++) assert.equal((await edge.post(event())).status, 202);
      let value;
      for (let i = 0; i < 100; i++) {
        ({ value } = await metrics(edge));
        if (value("threetone_edge_deliveries_total", { destination: "origin", result: "dead_lettered" }) === 2) break;
        await sleep(100);
      }
      assert.equal(value("threetone_edge_deliveries_total", { destination: "origin", result: "dead_lettered" }), 2);
      assert.equal(value("threetone_edge_deliveries_total", { destination: "origin", result: "queued" }), 2);
      assert.equal(value("threetone_edge_requests_total", { outcome: "queued" }), 2);
      assert.equal(value("threetone_edge_dead_letters", { destination: "origin" }), 2);
      assert.equal(value("threetone_edge_queued", { destination: "origin" }), 0);
      assert.equal(value("threetone_edge_breaker_state", { destination: "origin", state: "open" }), 1);
    } finally {
      await edge.dispose();
      await origin.close();
    }
  });
});

/** An alert receiver on 127.0.0.1 that checks each alert's signature with node:crypto. */
async function alertReceiver(secret) {
  const alerts = [];
  let answer = () => 200;
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      const status = answer();
      alerts.push({ status, body, json: JSON.parse(body), signed: request.headers["x-threetone-edge-signature"] === sign(body, secret) });
      response.writeHead(status).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/alerts`,
    alerts,
    answer: (fn) => (answer = fn),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("alerts", () => {
  const ALERT_SECRET = "whsec_alert_signing_0c1d2e";

  test("a burst of dead letters: one alert at once, one summary per debounce window; never a body or a secret", { timeout: 60_000 }, async () => {
    const origin = await startOrigin();
    origin.answer(() => ({ status: 500 }));
    const receiver = await alertReceiver(ALERT_SECRET);
    receiver.answer(() => (receiver.alerts.length === 0 ? 503 : 200)); // the first send fails: it is retried
    const marker = "alert-body-marker-5b7e";
    const edge = await startWorker(
      baseVars(origin, {
        DELIVERY_MODE: "queue",
        RETRY_MAX_RETRIES: "0",
        BREAKER_FAILURES: "1000",
        ALERT_WEBHOOK_URL: receiver.url,
        ALERT_SIGNING_SECRET: ALERT_SECRET,
        ALERT_DEBOUNCE_SECONDS: "3",
      }),
    );
    try {
      for (let i = 0; i < 5; i++) {
        const body = JSON.parse(event());
        body.data.conversation_summary = marker;
        assert.equal((await edge.post(JSON.stringify(body))).status, 202);
      }
      const deadLettered = () => receiver.alerts.filter(({ status, json }) => status === 200 && json.kind === "dead_lettered");
      for (let i = 0; i < 100 && deadLettered().reduce((sum, { json }) => sum + json.count, 0) < 5; i++) await sleep(100);
      const received = deadLettered();
      assert.equal(received.reduce((sum, { json }) => sum + json.count, 0), 5, JSON.stringify(received.map(({ json }) => json)));
      assert.ok(received.length <= 2, `${received.length} alerts for one window`);
      const [first] = received;
      assert.equal(first.json.destination, "origin");
      assert.equal(first.json.route, "/webhooks/threetone");
      assert.match(first.json.text, /events dead-lettered for destination origin/);
      assert.match(first.json.first_at, /^\d{4}-\d\d-\d\dT/);
      assert.match(first.json.dashboard ?? "", /\/dashboard$/);
      assert.ok(receiver.alerts.every(({ signed }) => signed), "every alert is signed");
      assert.equal(receiver.alerts[0].status, 503, "the first send failed and was retried");
      const everything = receiver.alerts.map(({ body }) => body).join("\n");
      for (const secret of [SECRET, ADMIN_TOKEN, ALERT_SECRET, marker]) assert.ok(!everything.includes(secret), secret);
    } finally {
      await edge.dispose();
      await origin.close();
      await receiver.close();
    }
  });

  test("breaker and pause alerts; a route with errors is reported once", { timeout: 60_000 }, async () => {
    const origin = await startOrigin();
    const receiver = await alertReceiver(ALERT_SECRET);
    const edge = await startWorker({
      WEBHOOK_SECRET: SECRET,
      ADMIN_TOKEN,
      ALLOW_INSECURE_ORIGIN: "true",
      ALERT_WEBHOOK_URL: receiver.url,
      BREAKER_FAILURES: "2",
      BREAKER_COOLDOWN_SECONDS: "1",
      ROUTES: [
        { path: "/hook", secrets: ["WEBHOOK_SECRET"], destinations: [{ name: "crm", url: origin.url }] },
        { path: "/broken", secrets: ["NOT_BOUND"], destinations: [{ name: "other", url: origin.url }] },
      ],
    });
    const kinds = () => receiver.alerts.map(({ json }) => `${json.kind} ${json.destination ?? json.route}`);
    try {
      origin.answer(() => ({ status: 500 }));
      for (let i = 0; i < 2; i++) assert.equal((await edge.fetch("/hook", signed(event()))).status, 502);
      origin.answer(() => ({ status: 200 }));
      await sleep(1100);
      assert.equal((await edge.fetch("/hook", signed(event()))).status, 200);
      assert.equal((await edge.fetch("/destinations/crm/pause", { method: "POST", headers: bearer })).status, 200);
      assert.equal((await edge.fetch("/destinations/crm/resume", { method: "POST", headers: bearer })).status, 200);
      const expected = ["route_unusable /broken", "breaker_opened crm", "breaker_closed crm", "destination_paused crm", "destination_resumed crm"];
      for (let i = 0; i < 50 && !expected.every((kind) => kinds().includes(kind)); i++) await sleep(100);
      assert.deepEqual([...kinds()].sort(), [...expected].sort());
    } finally {
      await edge.dispose();
      await origin.close();
      await receiver.close();
    }
  });

  test("an alert endpoint that is down changes no delivery outcome", async () => {
    const down = await alertReceiver(ALERT_SECRET);
    await down.close();
    for (const alerting of [undefined, down.url]) {
      const origin = await startOrigin();
      const edge = await startWorker(baseVars(origin, { ALERT_WEBHOOK_URL: alerting, BREAKER_FAILURES: "2", BREAKER_COOLDOWN_SECONDS: "1" }));
      try {
        origin.answer(() => ({ status: 500 }));
        const statuses = [];
        for (let i = 0; i < 3; i++) statuses.push((await edge.post(event())).status);
        origin.answer(() => ({ status: 200 }));
        await sleep(1100);
        statuses.push((await edge.post(event())).status);
        assert.deepEqual(statuses, [502, 502, 503, 200], `alerts to ${alerting}`);
        assert.equal((await (await edge.fetch("/health")).json()).status, "ok");
      } finally {
        await edge.dispose();
        await origin.close();
      }
    }
  });
});

/** A signed POST of `body`, for `edge.fetch`. */
function signed(body) {
  return { method: "POST", body, headers: { "content-type": "application/json", "x-threetone-signature": sign(body) } };
}

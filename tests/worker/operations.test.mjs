// Operations in workerd: /metrics parsed by Prometheus's own parser, with
// counts that match what the test sent exactly, across a restart of the
// Durable Objects.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";

import { ADMIN_TOKEN, ROOT, baseVars, event, nowTimestamp, sign, sleep, startOrigin, startWorker } from "./harness.mjs";

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

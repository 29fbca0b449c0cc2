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

import { ADMIN_TOKEN, ROOT, SECRET, baseVars, event, nowTimestamp, sha256, sign, sleep, startOrigin, startWorker } from "./harness.mjs";

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

describe("archive and replay", () => {
  const replayOf = async (edge, body) => {
    const response = await edge.fetch("/replay", { method: "POST", headers: bearer, body: JSON.stringify(body) });
    return { status: response.status, json: await response.json(), location: response.headers.get("location") };
  };
  const archiveKey = (body) => `events/${String(Date.parse(JSON.parse(body).timestamp)).padStart(13, "0")}/${sha256(Buffer.from(body))}`;

  test("without ARCHIVE the endpoints say so (501)", async () => {
    const origin = await startOrigin();
    const edge = await startWorker(baseVars(origin));
    try {
      for (const [path, method] of [["/replay", "POST"], ["/replay/abc", "GET"], ["/archive/events/1/x", "GET"]]) {
        const response = await edge.fetch(path, { method, headers: bearer, body: method === "POST" ? "{}" : undefined });
        assert.equal(response.status, 501, path);
        assert.equal((await response.json()).error, "archive_not_configured");
      }
      assert.equal((await edge.post(event())).status, 200);
    } finally {
      await edge.dispose();
      await origin.close();
    }
  });

  test("every authentic event is kept; a dry run counts a selection exactly; a replay sends it once more, marked", { timeout: 60_000 }, async () => {
    const origin = await startOrigin();
    const edge = await startWorker(baseVars(origin), { archive: true });
    try {
      const ended = Array.from({ length: 3 }, () => event("call_ended"));
      const started = Array.from({ length: 2 }, () => event("call_started"));
      for (const body of [...ended, ...started]) assert.equal((await edge.post(body)).status, 200);
      origin.answer(() => ({ status: 500 }));
      const failed = event("call_ended");
      assert.equal((await edge.post(failed)).status, 502);
      origin.answer(() => ({ status: 200 }));
      await sleep(300); // archived after the answers
      // The exact body, for the dashboard's detail view.
      const archived = await edge.fetch(`/archive/${archiveKey(ended[0])}`, { headers: bearer });
      assert.equal(archived.status, 200);
      assert.equal(await archived.text(), ended[0]);
      assert.equal((await edge.fetch(`/archive/${archiveKey(ended[0])}`)).status, 401);

      const from = new Date(Date.now() - 60_000).toISOString();
      assert.deepEqual((await replayOf(edge, { from, event_types: ["call_ended"] })).json, { dry_run: true, events: 4, deliveries: 4, capped: false });
      assert.equal((await replayOf(edge, { from, results: ["failed"] })).json.events, 1);
      const later = { from: new Date(Date.now() + 60_000).toISOString(), to: new Date(Date.now() + 120_000).toISOString() };
      assert.equal((await replayOf(edge, later)).json.events, 0);
      const bad = await replayOf(edge, { from: "yesterday" });
      assert.deepEqual([bad.status, bad.json.error], [400, "invalid_request"]);
      assert.equal((await replayOf(edge, { form: from })).status, 400);

      const before = origin.received.length;
      const replay = await replayOf(edge, { from, event_types: ["call_ended"], dry_run: false });
      assert.equal(replay.status, 202);
      assert.match(replay.location, /^\/replay\/[0-9a-f]{16}$/);
      let progress;
      for (let i = 0; i < 100; i++) {
        progress = await (await edge.fetch(replay.location, { headers: bearer })).json();
        if (progress.state === "done") break;
        await sleep(100);
      }
      assert.deepEqual(
        [progress.state, progress.events, progress.deliveries, progress.delivered, progress.failed, progress.remaining],
        ["done", 4, 4, 4, 0, 0],
      );
      await sleep(1500); // later rounds send nothing more
      const replayed = origin.received.slice(before);
      assert.deepEqual(replayed.map((request) => request.sha256).sort(), [...ended, failed].map((body) => sha256(Buffer.from(body))).sort());
      assert.ok(replayed.every((request) => request.headers["x-threetone-edge-replay"] === "1"));
      assert.ok(origin.received.slice(0, before).every((request) => request.headers["x-threetone-edge-replay"] === undefined));
      // The event that had failed is now delivered: a selection of failures is empty.
      assert.equal((await replayOf(edge, { from, results: ["failed"] })).json.events, 0);
    } finally {
      await edge.dispose();
      await origin.close();
    }
  });

  test("dead letters are part of the model: replayed by their result", { timeout: 60_000 }, async () => {
    const origin = await startOrigin();
    origin.answer(() => ({ status: 500 }));
    const edge = await startWorker(baseVars(origin, { DELIVERY_MODE: "queue", RETRY_MAX_RETRIES: "0", BREAKER_FAILURES: "1000" }), { archive: true });
    try {
      const body = event();
      assert.equal((await edge.post(body)).status, 202);
      const selection = { results: ["dead_lettered"] };
      let count;
      for (let i = 0; i < 100 && count !== 1; i++) {
        count = (await replayOf(edge, selection)).json.events;
        await sleep(100);
      }
      assert.equal(count, 1);
      origin.answer(() => ({ status: 200 }));
      const replay = await replayOf(edge, { ...selection, dry_run: false });
      for (let i = 0; i < 100 && !origin.received.some((request) => request.answered === 200); i++) await sleep(100);
      const delivered = origin.received.filter((request) => request.answered === 200);
      assert.equal(delivered.length, 1);
      assert.equal(delivered[0].sha256, sha256(Buffer.from(body)));
      assert.equal(delivered[0].headers["x-threetone-edge-replay"], "1");
      assert.equal(replay.status, 202);
    } finally {
      await edge.dispose();
      await origin.close();
    }
  });

  test("the daily sweep drops events past ARCHIVE_RETENTION_DAYS", async () => {
    const origin = await startOrigin();
    const edge = await startWorker(baseVars(origin, { MAX_EVENT_AGE_SECONDS: "off", ARCHIVE_RETENTION_DAYS: "30" }), { archive: true });
    try {
      const old = event("call_ended", { timestamp: nowTimestamp(-40 * 86_400) });
      const recent = event("call_ended", { timestamp: nowTimestamp(-20 * 86_400) });
      for (const body of [old, recent]) assert.equal((await edge.post(body)).status, 200);
      await sleep(300);
      assert.equal((await replayOf(edge, {})).json.events, 2);
      await edge.scheduled();
      assert.equal((await edge.fetch(`/archive/${archiveKey(old)}`, { headers: bearer })).status, 404);
      assert.equal((await edge.fetch(`/archive/${archiveKey(recent)}`, { headers: bearer })).status, 200);
      assert.equal((await replayOf(edge, {})).json.events, 1);
    } finally {
      await edge.dispose();
      await origin.close();
    }
  });
});

describe("GET /listen", () => {
  const upgrade = (token = ADMIN_TOKEN, query = "") =>
    ({ path: `/listen${query}`, init: { headers: { upgrade: "websocket", ...(token ? { authorization: `Bearer ${token}` } : {}) } } });

  test("streams each verified event (exact body, never a forged one) to a few admin listeners", async () => {
    const origin = await startOrigin();
    const edge = await startWorker(baseVars(origin));
    try {
      assert.equal((await edge.fetch("/listen", upgrade().init)).status, 101);
      for (const token of [null, "wrong"]) assert.equal((await edge.fetch("/listen", upgrade(token).init)).status, 401);
      const plain = await edge.fetch("/listen", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      assert.equal(plain.status, 426);
      const sockets = [];
      for (let i = 0; i < 4; i++) {
        const { path, init } = upgrade(ADMIN_TOKEN, i === 0 ? "?events=call_started" : "");
        const response = await edge.fetch(path, init);
        assert.equal(response.status, 101);
        const frames = [];
        response.webSocket.accept();
        response.webSocket.addEventListener("message", (message) => frames.push(JSON.parse(message.data)));
        sockets.push({ socket: response.webSocket, frames });
      }
      const full = await edge.fetch("/listen", upgrade().init);
      assert.deepEqual([full.status, (await full.json()).error], [503, "too_many_listeners"]);
      const body = event("call_ended");
      assert.equal((await edge.post(body)).status, 200);
      assert.equal((await edge.post(event(), { signature: sign("x", "guess") })).status, 401);
      await sleep(500);
      const [filtered, all] = [sockets[0].frames, sockets[1].frames];
      assert.equal(all[0].type, "hello");
      const events = all.filter((frame) => frame.type === "event");
      assert.equal(events.length, 1, JSON.stringify(all));
      assert.equal(Buffer.from(events[0].body_base64, "base64").toString(), body);
      assert.equal(events[0].event, "call_ended");
      assert.equal(events[0].content_type, "application/json");
      assert.match(events[0].delivery_id, /^dlv_[0-9a-f]{32}$/);
      assert.ok(!filtered.some((frame) => frame.type === "event"), "the filtered listener wants call_started only");
      assert.equal(origin.received.length, 1, "listening changes nothing at the destination");
      for (const { socket } of sockets) socket.close();
    } finally {
      await edge.dispose();
      await origin.close();
    }
  });
});

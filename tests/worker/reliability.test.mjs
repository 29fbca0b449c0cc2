// Nothing lost, nothing duplicated: authentic events sent by the ThreeTone
// simulator through the Worker (direct and queue mode) to an origin that
// fails, hangs or goes down, reach it exactly once (counted by body hash);
// forged events never reach it. Bounded: RELIABILITY_EVENTS events per
// scenario (default 300; the full run uses a few thousand), 127.0.0.1 only.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";

import { ADMIN_TOKEN, baseVars, event, sha256, sign, sleep, startWorker } from "./harness.mjs";
import { deliver, retryDelaySeconds } from "./simulator.mjs";

const EVENTS = Number(process.env.RELIABILITY_EVENTS ?? 300);
const FORGED = Math.max(5, Math.round(EVENTS / 20));
const CONCURRENCY = 8;

/** The edge's timeout toward the origin in these scenarios. */
const ORIGIN_TIMEOUT_MS = 1000;
/**
 * How long the origin may take to answer. An answer that leaves near the
 * edge's timeout may arrive after the edge gave up: a duplicate no receiver
 * can avoid (the destination has X-ThreeTone-Delivery-Id for that). So a
 * late answer is not sent at all, and the edge sees a failure, as it does.
 */
const ANSWER_WITHIN_MS = 250;

/**
 * An origin that counts a delivery only when it answered 200 in time and the
 * answer was sent (a delivery whose answer never left is not one), and that
 * can be told to fail, to hang, or to go down (it stops answering, then
 * drops every connection) and come back on the same port.
 */
async function faultyOrigin() {
  const acknowledged = new Map(); // body hash -> count
  const seen = new Set(); // every body hash that arrived
  let behave = () => "ok";
  let answering = true;
  const server = http.createServer((request, response) => {
    const arrived = performance.now();
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const hash = sha256(Buffer.concat(chunks));
      const firstTime = !seen.has(hash);
      seen.add(hash);
      const action = behave({ hash, firstTime });
      if (action === "hang") return; // never answers; the edge times out
      if (!answering || performance.now() - arrived > ANSWER_WITHIN_MS) return request.socket.destroy();
      const status = action === "fail" ? 500 : 200;
      response.on("finish", () => {
        if (status === 200) acknowledged.set(hash, (acknowledged.get(hash) ?? 0) + 1);
      });
      response.writeHead(status).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = server.address().port;
  return {
    url: `http://127.0.0.1:${port}/webhooks/threetone`,
    acknowledged,
    seen,
    behave: (fn) => (behave = fn),
    async down(ms) {
      answering = false;
      await sleep(ANSWER_WITHIN_MS); // the answers already sent are read
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await sleep(ms);
      await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
      answering = true;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Retries as ThreeTone would, with the schedule compressed 100x. */
const SENDER = {
  retryConfig: { max_retries: 12, retry_delay: 5, exponential_backoff: true, max_delay: 300, retry_on_status: [500, 502, 503, 504] },
  msPerSecond: 10,
};

async function runScenario(t, { mode, fault }) {
  const origin = await faultyOrigin();
  const vars = baseVars(origin, {
    ORIGIN_TIMEOUT_MS: String(ORIGIN_TIMEOUT_MS),
    RATE_LIMIT_FAILURES: "100000",
    DELIVERY_MODE: mode,
    RETRY_MAX_RETRIES: "20",
    RETRY_DELAY_SECONDS: "0",
    // The breaker opens under these faults; its cool-down is compressed like the sender's schedule.
    BREAKER_COOLDOWN_SECONDS: "1",
  });
  const edge = await startWorker(vars);
  try {
    if (fault === "fails 30%") origin.behave(() => (Math.random() < 0.3 ? "fail" : "ok"));
    if (fault === "hangs") origin.behave(({ firstTime }) => (firstTime && Math.random() < 0.2 ? "hang" : "ok"));
    const authentic = Array.from({ length: EVENTS }, (_, i) => event("call_ended", { id: `${mode}-${i}-${Math.random()}` }));
    const forged = Array.from({ length: FORGED }, (_, i) => event("call_ended", { id: `forged-${i}` }));
    const jobs = [
      ...authentic.map((body) => ({ body, signature: sign(body) })),
      ...forged.map((body) => ({ body, signature: sign(body, "attacker's guess") })),
    ].sort(() => Math.random() - 0.5);

    const outage = fault === "down, then back" ? sleep(50).then(() => origin.down(1500)) : Promise.resolve();
    const post = (body, signature) => edge.post(body, { signature, client: "198.51.100.1" });
    const answers = [];
    let next = 0;
    await Promise.all([
      outage,
      ...Array.from({ length: CONCURRENCY }, async () => {
        while (next < jobs.length) {
          const job = jobs[next++];
          answers.push({ job, ...(await deliver(post, job.body, job.signature, SENDER)) });
        }
      }),
    ]);
    const accepted = mode === "queue" ? 202 : 200;
    for (const { job, status } of answers) {
      const authenticJob = authentic.includes(job.body);
      assert.ok(authenticJob ? [200, accepted].includes(status) : status === 401, `${status} for ${authenticJob ? "authentic" : "forged"}`);
    }

    // Queue mode: wait for the consumer to finish delivering.
    const hashes = authentic.map((body) => sha256(Buffer.from(body)));
    const deadline = Date.now() + 60_000 + 30 * EVENTS;
    while (hashes.some((hash) => !origin.acknowledged.has(hash)) && Date.now() < deadline) await sleep(100);
    await sleep(mode === "queue" ? 1500 : 100); // late duplicates would show now

    const lost = hashes.filter((hash) => !origin.acknowledged.has(hash)).length;
    const duplicated = hashes.filter((hash) => (origin.acknowledged.get(hash) ?? 0) > 1).length;
    const forgedSeen = forged.filter((body) => origin.seen.has(sha256(Buffer.from(body)))).length;
    const retries = answers.reduce((total, answer) => total + answer.attempts - 1, 0);
    t.diagnostic(
      `${mode} / ${fault}: sent ${EVENTS} authentic + ${FORGED} forged, delivered ${hashes.length - lost}, ` +
        `duplicated ${duplicated}, lost ${lost}, forged at origin ${forgedSeen}, sender retries ${retries}`,
    );
    assert.equal(lost, 0, "lost");
    assert.equal(duplicated, 0, "duplicated");
    assert.equal(forgedSeen, 0, "forged events reached the origin");
  } finally {
    await edge.dispose();
    await origin.close();
  }
}

for (const mode of ["direct", "queue"]) {
  describe(`${mode} mode`, () => {
    for (const fault of ["fails 30%", "hangs", "down, then back"]) {
      test(`origin ${fault}: every authentic event exactly once, no forged one`, { timeout: 180_000 }, (t) => runScenario(t, { mode, fault }));
    }
  });
}

describe("dead letters", () => {
  test("an origin that always fails dead-letters the event after max_retries; replay delivers it once", { timeout: 60_000 }, async () => {
    const origin = await faultyOrigin();
    origin.behave(() => "fail");
    const edge = await startWorker(
      baseVars(origin, { DELIVERY_MODE: "queue", RETRY_MAX_RETRIES: "2", RETRY_DELAY_SECONDS: "1", RETRY_EXPONENTIAL_BACKOFF: "true" }),
    );
    const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };
    try {
      const body = event("escalation_triggered");
      const started = Date.now();
      const accepted = await edge.post(body);
      assert.equal(accepted.status, 202);
      assert.deepEqual(await accepted.json(), { status: "queued" });

      let logs;
      while (Date.now() - started < 30_000) {
        logs = await (await edge.fetch("/logs", { headers: bearer })).json();
        if (logs.dead_letters.length > 0) break;
        await sleep(200);
      }
      const [letter] = logs.dead_letters;
      assert.equal(letter.event, "escalation_triggered");
      assert.equal(letter.attempts, 3, "the first attempt and max_retries = 2 retries");
      assert.equal(letter.error, "origin_error");
      assert.equal(JSON.stringify(logs).includes("Customer needs help"), false, "/logs shows no body");
      // The retries waited 1 s, then 2 s (exponential backoff).
      const schedule = { retry_delay: 1, exponential_backoff: true, max_delay: 300 };
      assert.ok(Date.now() - started >= (retryDelaySeconds(schedule, 1) + retryDelaySeconds(schedule, 2)) * 1000);
      const hash = sha256(Buffer.from(body));
      assert.equal(origin.acknowledged.get(hash), undefined);

      origin.behave(() => "ok");
      const replay = await edge.fetch("/dead-letters/replay", { method: "POST", headers: bearer, body: "{}" });
      assert.deepEqual(await replay.json(), { replayed: 1, failed: 0, not_found: 0 });
      while (!origin.acknowledged.has(hash) && Date.now() - started < 50_000) await sleep(100);
      await sleep(1500);
      assert.equal(origin.acknowledged.get(hash), 1);
      logs = await (await edge.fetch("/logs", { headers: bearer })).json();
      assert.deepEqual(logs.dead_letters, []);
      assert.equal((await edge.fetch("/dead-letters/replay", { method: "POST", body: "{}" })).status, 401);
    } finally {
      await edge.dispose();
      await origin.close();
    }
  });

  /** Queue mode in front of an origin that always fails: every event becomes a dead letter at once. */
  const deadLetterVars = (origin) => baseVars(origin, { DELIVERY_MODE: "queue", RETRY_MAX_RETRIES: "0", BREAKER_FAILURES: "1000" });
  const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };

  async function deadLetters(edge, count) {
    for (let i = 0; i < 200; i++) {
      const { dead_letters } = await (await edge.fetch("/logs", { headers: bearer })).json();
      if (dead_letters.length >= count) return dead_letters;
      await sleep(100);
    }
    assert.fail(`fewer than ${count} dead letters`);
  }

  test("a malformed replay request is refused with 400 and replays nothing", { timeout: 60_000 }, async () => {
    const origin = await faultyOrigin();
    origin.behave(() => "fail");
    const edge = await startWorker(deadLetterVars(origin));
    try {
      assert.equal((await edge.post(event())).status, 202);
      await deadLetters(edge, 1);
      origin.behave(() => "ok");
      for (const body of ['{"ids":"x"}', "not json", '{"idz":[]}', '{"ids":[1]}', ""]) {
        const response = await edge.fetch("/dead-letters/replay", { method: "POST", headers: bearer, body });
        assert.equal(response.status, 400, body);
        assert.equal((await response.json()).error, "invalid_request");
      }
      await sleep(1500);
      assert.equal(origin.acknowledged.size, 0);
      assert.equal((await deadLetters(edge, 1)).length, 1);
    } finally {
      await edge.dispose();
      await origin.close();
    }
  });

  test("a replay whose enqueue fails keeps every letter; a later replay delivers each once", { timeout: 90_000 }, async () => {
    const origin = await faultyOrigin();
    origin.behave(() => "fail");
    const persist = mkdtempSync(join(tmpdir(), "threetone-edge-letters-"));
    const bodies = Array.from({ length: 3 }, () => event("call_ended"));
    try {
      let edge = await startWorker(deadLetterVars(origin), { persist });
      try {
        for (const body of bodies) assert.equal((await edge.post(body)).status, 202);
        await deadLetters(edge, bodies.length);
      } finally {
        await edge.dispose();
      }
      origin.behave(() => "ok");
      // The same objects, but no queue to send to: every enqueue fails.
      edge = await startWorker(deadLetterVars(origin), { persist, queue: false });
      try {
        const replay = await edge.fetch("/dead-letters/replay", { method: "POST", headers: bearer, body: "{}" });
        assert.deepEqual(await replay.json(), { replayed: 0, failed: 3, not_found: 0 });
        assert.equal((await deadLetters(edge, 3)).length, 3);
      } finally {
        await edge.dispose();
      }
      edge = await startWorker(deadLetterVars(origin), { persist });
      try {
        const replay = await edge.fetch("/dead-letters/replay", { method: "POST", headers: bearer, body: "{}" });
        assert.deepEqual(await replay.json(), { replayed: 3, failed: 0, not_found: 0 });
        const hashes = bodies.map((body) => sha256(Buffer.from(body)));
        for (let i = 0; i < 100 && hashes.some((hash) => !origin.acknowledged.has(hash)); i++) await sleep(100);
        await sleep(1000);
        assert.deepEqual(hashes.map((hash) => origin.acknowledged.get(hash)), [1, 1, 1]);
        assert.deepEqual((await (await edge.fetch("/logs", { headers: bearer })).json()).dead_letters, []);
      } finally {
        await edge.dispose();
      }
    } finally {
      await origin.close();
      rmSync(persist, { recursive: true, force: true });
    }
  });

  test("dead letters are listed without their bodies (50 letters of 110 KB)", { timeout: 120_000 }, async () => {
    const origin = await faultyOrigin();
    origin.behave(() => "fail");
    const edge = await startWorker(deadLetterVars(origin));
    try {
      const marker = "large-letter-body-never-listed";
      const bodies = Array.from({ length: 50 }, (_, i) => {
        const body = JSON.parse(event("call_ended", { id: `large-${i}` }));
        body.data.conversation_summary = marker + "x".repeat(110_000);
        return JSON.stringify(body);
      });
      for (const body of bodies) assert.equal((await edge.post(body)).status, 202);
      const letters = await deadLetters(edge, bodies.length);
      assert.equal(letters.length, 50);
      assert.deepEqual(
        letters.map((letter) => letter.call_id).sort(),
        bodies.map((_, i) => `call_large-${i}`).sort(),
      );
      const text = await (await edge.fetch("/logs", { headers: bearer })).text();
      assert.ok(!text.includes(marker), "a body was listed");
      // 50 summaries and 100 delivery-log entries, against 5.5 MB of bodies.
      assert.ok(text.length < 64 * 1024, `/logs is ${text.length} bytes`);
    } finally {
      await edge.dispose();
      await origin.close();
    }
  });
});

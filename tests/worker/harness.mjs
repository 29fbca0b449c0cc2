// Test harness for the Worker: a real origin on 127.0.0.1:0, and the built
// Worker (worker/build/) in real workerd through Miniflare.

import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
// Miniflare is pinned in worker/package.json; resolve it from there.
const fromWorker = createRequire(`${ROOT}worker/package.json`);
const { Miniflare } = await import(fromWorker.resolve("miniflare"));

export const SECRET = "whsec_edge_test_secret_5f2c";

/** The Worker's Durable Objects, SQLite-backed as `new_sqlite_classes` in wrangler.toml declares. */
export const DURABLE_OBJECTS = Object.fromEntries(
  [
    ["DESTINATIONS", "DestinationStore"],
    ["ROUTE_LOGS", "RouteLog"],
    ["METRICS", "RequestCounts"],
    ["ALERTS", "AlertStore"],
    ["REPLAYS", "ReplayStore"],
    ["LISTENERS", "ListenerStore"],
    ["FAILURES", "FailureCounter"],
    ["DEAD_LETTERS", "DeadLetterStore"],
  ].map(([binding, className]) => [binding, { className, useSQLite: true }]),
);
export const ADMIN_TOKEN = "admin_token_for_tests_91ab_7c4e2f0d9a";

/** `sha256=<hex>` computed by Node's own crypto, independent of the Worker. */
export function sign(body, secret = SECRET) {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export function sha256(bytes) {
  return createHash("sha256").update(bytes).digest("hex");
}

/** One of ThreeTone's documented example payloads, as bytes. */
export function seedPayload(event) {
  return readFileSync(`${ROOT}tests/vectors/payloads/${event}.json`);
}

/** Now, as ThreeTone writes timestamps (RFC 3339, whole seconds, UTC). */
export function nowTimestamp(offsetSeconds = 0) {
  return new Date(Date.now() + offsetSeconds * 1000).toISOString().replace(/\.\d+Z$/, "Z");
}

/** A documented-shape event with a unique call id, sent now unless `timestamp` says otherwise. */
export function event(type = "call_ended", { id = Math.random().toString(36).slice(2), timestamp = nowTimestamp() } = {}) {
  const body = JSON.parse(seedPayload(type));
  body.data.call_id = `call_${id}`;
  body.timestamp = timestamp;
  return JSON.stringify(body);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * An origin that records every request (headers, body bytes, body hash) and
 * answers with `behavior(request)`: `{ status, body, delayMs }`.
 */
export async function startOrigin() {
  const received = [];
  let behavior = () => ({ status: 200, body: "ok" });
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", async () => {
      const body = Buffer.concat(chunks);
      const entry = { method: request.method, url: request.url, headers: request.headers, body, sha256: sha256(body) };
      received.push(entry);
      const answer = await behavior(entry);
      if (answer.delayMs) await sleep(answer.delayMs);
      entry.answered = answer.status ?? 200;
      response.writeHead(entry.answered, { "content-type": "text/plain" });
      response.end(answer.body ?? "");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/webhooks/threetone`,
    received,
    answer(fn) {
      behavior = fn;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

/** Every line the Worker printed, across all instances (for the log audit). */
export const workerOutput = [];

/** The queue of queue mode (producer binding EVENTS, consumed by the same Worker). */
const QUEUE = "threetone-events";

/** The built Worker as Miniflare loads it: its entry module, worker-build's
 * ES module and the wasm beside it. */
export const EDGE_SCRIPT = {
  modules: true,
  scriptPath: `${ROOT}worker/entry.mjs`,
  modulesRules: [
    { type: "ESModule", include: ["**/*.js"] },
    { type: "CompiledWasm", include: ["**/*.wasm"] },
  ],
  compatibilityDate: "2026-04-26",
  durableObjects: DURABLE_OBJECTS,
};

/**
 * The built Worker in workerd, with `vars` as its environment (and a queue in
 * queue mode, unless `queue` is false). With `persist`, its Durable Objects
 * keep their storage in that directory, for a later Worker to find.
 */
export async function startWorker(vars, { queue = vars.DELIVERY_MODE === "queue", persist, archive = false, listen = false } = {}) {
  const queues = queue
    ? { queueProducers: { EVENTS: { queueName: QUEUE } }, queueConsumers: { [QUEUE]: { maxBatchSize: 10, maxBatchTimeout: 1 } } }
    : {};
  const mf = new Miniflare({
    ...queues,
    ...(persist === undefined ? {} : { durableObjectsPersist: persist }),
    ...(archive ? { r2Buckets: ["ARCHIVE"], ...(persist === undefined ? {} : { r2Persist: persist }) } : {}),
    // A real HTTP server on 127.0.0.1, for a browser.
    ...(listen ? { host: "127.0.0.1", port: 0 } : {}),
    ...EDGE_SCRIPT,
    bindings: Object.fromEntries(Object.entries(vars).filter(([, value]) => value !== undefined)),
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        stream.on("data", (data) => workerOutput.push(...String(data).split("\n").filter(Boolean)));
      }
    },
  });
  const url = await mf.ready;
  return {
    /** The Worker's address on 127.0.0.1 (with `listen`). */
    url: url.href.replace(/\/$/, ""),
    fetch: (path, init = {}) => mf.dispatchFetch(`http://edge.test${path}`, init),
    /** POSTs a webhook as ThreeTone would. */
    post(body, { signature = sign(body), headers = {}, client = "203.0.113.7" } = {}) {
      return mf.dispatchFetch("http://edge.test/webhooks/threetone", {
        method: "POST",
        body,
        headers: {
          "content-type": "application/json",
          "cf-connecting-ip": client,
          ...(signature === null ? {} : { "x-threetone-signature": signature }),
          ...headers,
        },
      });
    },
    /** Runs the Worker's scheduled (cron) handler once. */
    scheduled: async () => (await mf.getWorker()).scheduled({ cron: "17 3 * * *" }),
    dispose: () => mf.dispose(),
  };
}

/** Runs `fn(origin, edge)` with a fresh origin and a Worker configured by `baseVars(origin, extra)`, then stops both. */
export async function withEdge(extra, fn) {
  const origin = await startOrigin();
  const edge = await startWorker(baseVars(origin, extra));
  try {
    return await fn(origin, edge);
  } finally {
    await edge.dispose();
    await origin.close();
  }
}

/** Configuration for a working Worker in front of `origin`. */
export function baseVars(origin, extra = {}) {
  return {
    WEBHOOK_SECRET: SECRET,
    ORIGIN_URL: origin.url,
    ALLOW_INSECURE_ORIGIN: "true",
    ADMIN_TOKEN,
    ...extra,
  };
}

// Framework adapters against real servers on 127.0.0.1: Express (including
// apps with express.json() mounted globally), Hono (on @hono/node-server) and
// Node's http module.

import assert from "node:assert/strict";
import http from "node:http";
import { test } from "node:test";

import { serve } from "@hono/node-server";
import express from "express";
import { Hono } from "hono";
import { generateTestEvent } from "threetone-webhooks";
import { rawBodySaver, threetoneWebhook } from "threetone-webhooks/express";
import { threetoneWebhook as honoWebhook } from "threetone-webhooks/hono";
import { createNodeHandler } from "threetone-webhooks/node";

const SECRET = "whsec_adapters";

/** Runs `fn(baseUrl)` against `server` listening on 127.0.0.1:0. */
async function withServer(server, fn) {
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    return await fn(`http://127.0.0.1:${server.address().port}`);
  } finally {
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  }
}

async function post(url, { body, headers }) {
  const response = await fetch(url, { method: "POST", body, headers });
  return { status: response.status, json: await response.json() };
}

const valid = () => generateTestEvent("call_ended", { secret: SECRET });
const forged = () => generateTestEvent("call_ended", { secret: "not the secret" });

test("Express: route mounted before a global express.json()", async () => {
  const received = [];
  const app = express();
  app.post("/webhooks/threetone", threetoneWebhook({ secret: SECRET, onEvent: (event) => received.push(event) }));
  app.use(express.json());
  app.post("/api/echo", (req, res) => res.json(req.body));
  await withServer(http.createServer(app), async (url) => {
    const event = valid();
    assert.deepEqual(await post(`${url}/webhooks/threetone`, event), { status: 200, json: { received: true } });
    assert.deepEqual(received, [JSON.parse(event.body)]);
    const rejected = await post(`${url}/webhooks/threetone`, forged());
    assert.equal(rejected.status, 401);
    assert.equal(rejected.json.error, "signature_mismatch");
    assert.equal(received.length, 1);
    // The app's own JSON parsing still works.
    assert.deepEqual((await post(`${url}/api/echo`, { body: '{"a":1}', headers: { "content-type": "application/json" } })).json, { a: 1 });
  });
});

test("Express: express.json({ verify: rawBodySaver }) mounted globally first", async () => {
  const received = [];
  const app = express();
  app.use(express.json({ verify: rawBodySaver }));
  app.post("/webhooks/threetone", threetoneWebhook({ secret: SECRET, onEvent: (event) => received.push(event.event) }));
  await withServer(http.createServer(app), async (url) => {
    assert.equal((await post(`${url}/webhooks/threetone`, valid())).status, 200);
    assert.equal((await post(`${url}/webhooks/threetone`, forged())).status, 401);
    assert.deepEqual(received, ["call_ended"]);
  });
});

test("Express: a plain global express.json() first is reported, never verified re-serialized", async () => {
  const received = [];
  const app = express();
  app.use(express.json());
  app.post("/webhooks/threetone", threetoneWebhook({ secret: SECRET, onEvent: (event) => received.push(event) }));
  await withServer(http.createServer(app), async (url) => {
    const answer = await post(`${url}/webhooks/threetone`, valid());
    assert.equal(answer.status, 500);
    assert.equal(answer.json.error, "raw_body_unavailable");
    assert.match(answer.json.message, /rawBodySaver/);
    assert.deepEqual(received, []);
  });
});

test("Express: express.raw() on the route, and next() without onEvent", async () => {
  const app = express();
  app.post(
    "/webhooks/threetone",
    express.raw({ type: "*/*" }),
    threetoneWebhook({ secret: SECRET }),
    (req, res) => res.json({ handled: req.threetoneEvent.event }),
  );
  await withServer(http.createServer(app), async (url) => {
    assert.deepEqual(await post(`${url}/webhooks/threetone`, valid()), { status: 200, json: { handled: "call_ended" } });
  });
});

/** Runs `fn(baseUrl)` against a Hono app on @hono/node-server. */
async function withHono(app, fn) {
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  try {
    return await fn(`http://127.0.0.1:${server.address().port}`);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

test("Hono: verified events reach the handler; forgeries get the error's status", async () => {
  const app = new Hono();
  // A global middleware that reads the body as text first (a logger, say).
  app.use(async (c, next) => {
    if (c.req.method === "POST") await c.req.text();
    await next();
  });
  app.post("/webhooks/threetone", honoWebhook({ secret: SECRET }), (c) => c.json({ handled: c.get("threetoneEvent").event }));
  await withHono(app, async (url) => {
    assert.deepEqual(await post(`${url}/webhooks/threetone`, valid()), { status: 200, json: { handled: "call_ended" } });
    const rejected = await post(`${url}/webhooks/threetone`, forged());
    assert.equal(rejected.status, 401);
    assert.equal(rejected.json.error, "signature_mismatch");
  });
});

test("Hono: a JSON body parser mounted first still leaves the raw body to verify", async () => {
  const app = new Hono();
  app.use(async (c, next) => {
    if (c.req.method === "POST") c.set("parsed", await c.req.json());
    await next();
  });
  app.post("/webhooks/threetone", honoWebhook({ secret: SECRET }), (c) => c.json({ same: c.get("parsed").data.call_id === c.get("threetoneEvent").data.call_id }));
  await withHono(app, async (url) => {
    assert.deepEqual(await post(`${url}/webhooks/threetone`, valid()), { status: 200, json: { same: true } });
    assert.equal((await post(`${url}/webhooks/threetone`, forged())).status, 401);
  });
});

test("Hono: a body consumed through c.req.raw is reported, never verified", async () => {
  const app = new Hono();
  app.use(async (c, next) => {
    if (c.req.method === "POST") await c.req.raw.text();
    await next();
  });
  app.post("/webhooks/threetone", honoWebhook({ secret: SECRET }), (c) => c.json({ handled: true }));
  await withHono(app, async (url) => {
    const answer = await post(`${url}/webhooks/threetone`, valid());
    assert.equal(answer.status, 500);
    assert.equal(answer.json.error, "raw_body_unavailable");
  });
});

test("Node http: handler answers 200, 401, 405 and 413", async () => {
  const received = [];
  const handler = createNodeHandler({ secret: SECRET, maxBodyBytes: 4096, onEvent: (event) => received.push(event.event) });
  await withServer(http.createServer(handler), async (url) => {
    assert.deepEqual(await post(url, valid()), { status: 200, json: { received: true } });
    assert.equal((await post(url, forged())).status, 401);
    assert.equal((await fetch(url)).status, 405);
    const big = generateTestEvent("call_ended", { secret: SECRET, overrides: { data: { conversation_summary: "x".repeat(5000) } } });
    assert.equal((await post(url, big)).status, 413);
    assert.deepEqual(received, ["call_ended"]);
  });
});

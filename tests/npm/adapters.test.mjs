// Framework adapters against real servers on 127.0.0.1: Express (including
// apps with express.json() mounted globally), Hono (on @hono/node-server) and
// Node's http module (also as a child process, whose exit would show a crash).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import http from "node:http";
import net from "node:net";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";

import { serve } from "@hono/node-server";
import express from "express";
import { Hono } from "hono";
import { generateTestEvent } from "threetone-webhooks";
import { rawBodySaver, threetoneWebhook } from "threetone-webhooks/express";
import { threetoneWebhook as honoWebhook } from "threetone-webhooks/hono";
import { createNodeHandler } from "threetone-webhooks/node";

import { LIMIT, assertBodyLimits as assertLimits, assertDefaultLimit, post, withServer } from "./http-cases.mjs";

const SECRET = "whsec_adapters";
const here = dirname(fileURLToPath(import.meta.url));

/** The limit cases of http-cases.mjs, with this file's secret. */
const assertBodyLimits = (url) => assertLimits(url, SECRET);

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

// Body limits: every adapter refuses a declared Content-Length over
// maxBodyBytes before reading, and cuts a streamed (chunked) body at it.

/** A valid event of more than LIMIT bytes. */
const bigEvent = () => generateTestEvent("call_ended", { secret: SECRET, overrides: { data: { conversation_summary: "x".repeat(LIMIT) } } });

test("Express: maxBodyBytes (default 1 MiB) for a body it reads itself, and for one a body parser read", async () => {
  const received = [];
  const app = express();
  app.post("/limited", threetoneWebhook({ secret: SECRET, maxBodyBytes: LIMIT, onEvent: (event) => received.push(event.event) }));
  app.post("/default", threetoneWebhook({ secret: SECRET, onEvent: (event) => received.push(event.event) }));
  app.post("/raw", express.raw({ type: "*/*", limit: "10mb" }), threetoneWebhook({ secret: SECRET, maxBodyBytes: LIMIT }), (_req, res) => res.json({ handled: true }));
  await withServer(http.createServer(app), async (url) => {
    await assertBodyLimits(`${url}/limited`);
    await assertDefaultLimit(`${url}/default`);
    const parsed = await post(`${url}/raw`, bigEvent());
    assert.deepEqual([parsed.status, parsed.json.error], [413, "payload_too_large"]);
    assert.deepEqual(await post(`${url}/raw`, valid()), { status: 200, json: { handled: true } });
  });
  assert.deepEqual(received, ["call_ended"]);
});

test("Hono: maxBodyBytes (default 1 MiB) for the stream it reads, and for a body another middleware read", async () => {
  const app = new Hono();
  app.use("/read-first", async (c, next) => {
    await c.req.text();
    await next();
  });
  const handled = async (c) => c.json({ handled: (await c.req.json()).data.call_id === c.get("threetoneEvent").data.call_id });
  app.post("/limited", honoWebhook({ secret: SECRET, maxBodyBytes: LIMIT }), handled);
  app.post("/default", honoWebhook({ secret: SECRET }), handled);
  app.post("/read-first", honoWebhook({ secret: SECRET, maxBodyBytes: LIMIT }), handled);
  await withHono(app, async (url) => {
    await assertBodyLimits(`${url}/limited`);
    await assertDefaultLimit(`${url}/default`);
    // The handler after the middleware still reads the body it read from the stream.
    assert.deepEqual(await post(`${url}/limited`, valid()), { status: 200, json: { handled: true } });
    const early = await post(`${url}/read-first`, bigEvent());
    assert.deepEqual([early.status, early.json.error], [413, "payload_too_large"]);
    assert.deepEqual(await post(`${url}/read-first`, valid()), { status: 200, json: { handled: true } });
  });
});

test("Node http: maxBodyBytes (default 1 MiB): a declared Content-Length unread, a chunked body cut", async () => {
  await withServer(http.createServer(createNodeHandler({ secret: SECRET, maxBodyBytes: LIMIT })), assertBodyLimits);
  await withServer(http.createServer(createNodeHandler({ secret: SECRET })), assertDefaultLimit);
});

/** Starts node-http-server.mjs; resolves to its URL, its output so far and the child. */
async function startChild(args = []) {
  const child = spawn(process.execPath, ["node-http-server.mjs", ...args], {
    cwd: here,
    env: { ...process.env, THREETONE_TEST_SECRET: SECRET },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = { lines: [], stderr: "" };
  let pending = "";
  child.stdout.on("data", (data) => {
    const parts = (pending + data).split("\n");
    pending = parts.pop();
    output.lines.push(...parts.map((line) => JSON.parse(line)));
  });
  child.stderr.on("data", (data) => (output.stderr += data));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(`exited (${code ?? signal})`)));
  const started = (async () => {
    while (output.lines.length === 0) await sleep(10);
    return output.lines.shift().port;
  })();
  const port = await Promise.race([started, exited]);
  assert.equal(typeof port, "number", `the server did not start: ${port}\n${output.stderr}`);
  return { url: `http://127.0.0.1:${port}`, port, output, child, exited };
}

/** Sends half of a body, then resets (or closes) the connection. */
async function abandonUpload(port, how) {
  const socket = net.connect(port, "127.0.0.1");
  const failed = new Promise((_, reject) => socket.once("error", (error) => reject(new Error(`the server is gone: ${error.message}`))));
  await Promise.race([new Promise((resolve) => socket.once("connect", resolve)), failed]);
  socket.write('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"event":"call_');
  await sleep(50); // the handler is reading the body
  if (how === "reset") socket.resetAndDestroy();
  else socket.destroy();
  await Promise.race([new Promise((resolve) => socket.once("close", resolve)), failed]);
  await sleep(50); // the server has seen it
}

test("Node http: an abandoned upload, or an onEvent that throws or rejects, never ends the process", async () => {
  const server = await startChild();
  try {
    await abandonUpload(server.port, "reset"); // ECONNRESET
    await abandonUpload(server.port, "close"); // aborted
    const failing = (id) => generateTestEvent("call_ended", { secret: SECRET, id });
    for (const id of ["throw", "reject"]) {
      const answer = await post(server.url, failing(id));
      assert.deepEqual([answer.status, answer.json.error], [500, "internal_error"], `onEvent for ${id}`);
    }
    // Still serving, and still verifying.
    assert.deepEqual(await post(server.url, generateTestEvent("call_ended", { secret: SECRET, id: "after" })), { status: 200, json: { received: true } });
    assert.equal((await post(server.url, forged())).status, 401);
    await sleep(50);
    assert.equal(server.child.exitCode, null, `the server exited:\n${server.output.stderr}`);
    // Failures reach onError; abandoned uploads are dropped quietly.
    assert.deepEqual(server.output.lines, [{ onError: "onEvent failed at once" }, { onError: "onEvent failed later" }, { event: "call_after" }]);
    assert.equal(server.output.stderr, "");
  } finally {
    server.child.kill();
    await server.exited;
  }
});

test("Node http: without onError, a failure is reported on standard error, never with the body or the secret", async () => {
  const server = await startChild(["default-on-error"]);
  try {
    const event = generateTestEvent("call_ended", { secret: SECRET, id: "throw" });
    assert.equal((await post(server.url, event)).status, 500);
    while (!server.output.stderr.includes("onEvent failed at once")) await sleep(10);
    assert.match(server.output.stderr, /^threetone-webhooks: the webhook handler failed: Error: onEvent failed at once/);
    for (const secretOrBody of [SECRET, event.headers["x-threetone-signature"], event.body, "call_throw"]) {
      assert.ok(!server.output.stderr.includes(secretOrBody), `standard error shows ${secretOrBody}`);
    }
    assert.equal(server.child.exitCode, null);
  } finally {
    server.child.kill();
    await server.exited;
  }
});

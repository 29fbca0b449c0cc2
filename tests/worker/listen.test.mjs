// `npx threetone-webhooks listen` against the Worker in workerd (Miniflare,
// its entry socket on 127.0.0.1): the CLI of the npm package as packed
// (target/npm/package, built by `cargo xtask npm` before the tests) receives
// every verified event within a second and forwards it to a local server
// that verifies it with node:crypto and the secret the CLI printed; a forged
// event is never streamed; a dropped connection is resumed; without the admin
// token the WebSocket is refused. The real destination receives exactly what
// it would without a listener.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import { createRequire } from "node:module";
import net from "node:net";
import { before, test } from "node:test";
import { promisify } from "node:util";

import { ADMIN_TOKEN, EDGE_SCRIPT, ROOT, SECRET, baseVars, event, sign, sleep, startOrigin } from "./harness.mjs";

const { Miniflare } = await import(createRequire(`${ROOT}worker/package.json`).resolve("miniflare"));
const CLI = `${ROOT}target/npm/package/dist/cli.mjs`;
const PACKAGE = `${ROOT}target/npm/package/dist/`;

// The package as cargo xtask npm packs it (the CLI and its WebSocket client with it).
before(async () => {
  await promisify(execFile)("cargo", ["xtask", "npm"], { cwd: ROOT, maxBuffer: 64 << 20 });
}, { timeout: 900_000 });

/** The built Worker in workerd, listening on 127.0.0.1, in front of `origin`; resolves to its URL and Miniflare. */
async function startEdge(origin) {
  const mf = new Miniflare({ ...EDGE_SCRIPT, bindings: baseVars(origin), host: "127.0.0.1", port: 0 });
  const url = new URL(await mf.ready);
  return { url: url.origin, mf };
}

/** POSTs `body` to the Worker as ThreeTone would (signed with the route's secret unless `signature` says otherwise). */
function post(edge, body, signature = sign(body)) {
  return fetch(`${edge.url}/webhooks/threetone`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "x-threetone-signature": signature, "cf-connecting-ip": "203.0.113.9" },
  });
}

/** A local endpoint recording each request (headers, exact body, when it arrived). */
async function startEndpoint() {
  const received = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      received.push({ at: performance.now(), headers: request.headers, body: Buffer.concat(chunks) });
      response.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/webhooks/threetone`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Starts the CLI's `listen`; `output` fills as it prints, `stop()` ends it with Ctrl-C and resolves to its exit code. */
function startListen(args) {
  const { THREETONE_ADMIN_TOKEN: _, THREETONE_LISTEN_SECRET: __, ...env } = process.env;
  const child = spawn(process.execPath, [CLI, "listen", ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  const output = { stdout: "", stderr: "" };
  child.stdout.on("data", (data) => (output.stdout += data));
  child.stderr.on("data", (data) => (output.stderr += data));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  return {
    output,
    exited,
    secret: () => output.stdout.match(/^Your webhook signing secret is (whsec_[0-9a-f]{32}) /)?.[1],
    stop: async () => {
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Resolves once `predicate()` holds; rejects after `ms` saying what it waited for. */
async function until(predicate, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Whether `signature` is `body`'s under `secret`, by Node's own crypto. */
function signedBy(body, signature, secret) {
  const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(body).digest("hex")}`);
  const got = Buffer.from(String(signature));
  return expected.length === got.length && timingSafeEqual(expected, got);
}

const readyCount = (listener) => (listener.output.stderr.match(/ready, forwarding events/g) ?? []).length;

test("a listener receives each verified event within a second and forwards it, re-signed with the printed secret; a forged one never; the destination gets what it would anyway", { timeout: 120_000 }, async () => {
  const origin = await startOrigin();
  const edge = await startEdge(origin);
  const local = await startEndpoint();
  const all = startListen(["--edge", edge.url, "--token", ADMIN_TOKEN, "--forward-to", local.url]);
  const startedOnly = startListen(["--edge", edge.url, "--token", ADMIN_TOKEN, "--forward-to", local.url, "--events", "call_started"]);
  try {
    await until(() => readyCount(all) === 1 && readyCount(startedOnly) === 1, `both listeners ready\n${all.output.stderr}\n${startedOnly.output.stderr}`, 30_000);
    const secret = all.secret();
    assert.ok(secret, all.output.stdout);
    assert.notEqual(secret, startedOnly.secret());
    for (const type of ["call_ended", "call_started"]) {
      const body = event(type);
      const sent = performance.now();
      const before = local.received.length;
      assert.equal((await post(edge, body)).status, 200);
      const wanted = type === "call_started" ? 2 : 1;
      await until(() => local.received.length === before + wanted, `${type} forwarded`, 1000);
      for (const received of local.received.slice(before)) {
        assert.ok(received.at - sent < 1000, `forwarded ${Math.round(received.at - sent)} ms after it was sent`);
        assert.equal(received.body.toString(), body, "the exact body");
        assert.equal(received.headers["content-type"], "application/json");
        assert.equal(received.headers["x-threetone-event"], type);
        assert.match(received.headers["x-threetone-delivery-id"], /^dlv_[0-9a-f]{32}$/);
        const secrets = [secret, startedOnly.secret()];
        assert.ok(secrets.some((candidate) => signedBy(received.body, received.headers["x-threetone-signature"], candidate)), "signed with a printed secret");
        assert.ok(!signedBy(received.body, received.headers["x-threetone-signature"], SECRET), "not with the Worker's");
      }
      const forwarded = local.received.slice(before).find((received) => signedBy(received.body, received.headers["x-threetone-signature"], secret));
      assert.ok(forwarded, "the unfiltered listener forwarded it");
    }
    await until(() => all.output.stdout.trim().split("\n").length === 3, `two lines\n${all.output.stdout}`);
    const lines = all.output.stdout.trim().split("\n").slice(1);
    assert.match(lines[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}call_ended {2}call_\w+ {2}200 {2}\d+ ms$/);
    assert.match(lines[1], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}call_started {2}call_\w+ {2}200 {2}\d+ ms$/);
    // Forged: refused by the Worker, never streamed.
    const before = local.received.length;
    assert.equal((await post(edge, event("call_ended"), sign("something else", "a guess"))).status, 401);
    await sleep(1500);
    assert.equal(local.received.length, before, "a forged event reaches no listener");
    assert.equal(all.output.stdout.trim().split("\n").length, 3);
    // The destination got each event once, as sent, with the sender's signature.
    assert.equal(origin.received.length, 2);
    for (const received of origin.received) {
      assert.ok(signedBy(received.body, received.headers["x-threetone-signature"], SECRET));
    }
    assert.ok(!all.output.stdout.includes(ADMIN_TOKEN) && !all.output.stderr.includes(ADMIN_TOKEN), "the token is never printed");
    assert.equal(await all.stop(), 0);
    assert.equal(await startedOnly.stop(), 0);
  } finally {
    await all.stop();
    await startedOnly.stop();
    await local.close();
    await edge.mf.dispose();
    await origin.close();
  }
});

test("a dropped connection is resumed: the listener reconnects and forwards what the Worker verifies next", { timeout: 120_000 }, async () => {
  const origin = await startOrigin();
  const edge = await startEdge(origin);
  const local = await startEndpoint();
  // A TCP relay between the listener and the Worker, which the test cuts.
  const upstream = new URL(edge.url);
  const pairs = [];
  const relay = net.createServer((client) => {
    const server = net.connect(Number(upstream.port), upstream.hostname);
    pairs.push([client, server]);
    client.pipe(server).pipe(client);
    client.on("error", () => server.destroy());
    server.on("error", () => client.destroy());
  });
  await new Promise((resolve) => relay.listen(0, "127.0.0.1", resolve));
  const listener = startListen(["--edge", `http://127.0.0.1:${relay.address().port}`, "--token", ADMIN_TOKEN, "--forward-to", local.url]);
  try {
    await until(() => readyCount(listener) === 1, `ready\n${listener.output.stderr}`, 30_000);
    for (const [client, server] of pairs) {
      client.destroy();
      server.destroy();
    }
    await until(() => /closed \(1006\); reconnecting in 1 s/.test(listener.output.stderr), `the drop noticed\n${listener.output.stderr}`);
    await until(() => readyCount(listener) === 2, `reconnected\n${listener.output.stderr}`);
    const body = event("call_ended");
    assert.equal((await post(edge, body)).status, 200);
    await until(() => local.received.length === 1, "the event after the reconnection", 2000);
    assert.equal(local.received[0].body.toString(), body);
    assert.ok(signedBy(local.received[0].body, local.received[0].headers["x-threetone-signature"], listener.secret()));
    assert.equal(await listener.stop(), 0);
  } finally {
    await listener.stop();
    for (const [client, server] of pairs) {
      client.destroy();
      server.destroy();
    }
    await new Promise((resolve) => relay.close(resolve));
    await local.close();
    await edge.mf.dispose();
    await origin.close();
  }
});

test("without the admin token the WebSocket is refused (401, reported by the CLI, exit 1); a sixth listener is refused with 503", { timeout: 120_000 }, async () => {
  const origin = await startOrigin();
  const edge = await startEdge(origin);
  const { connectWebSocket, HandshakeError } = await import(`${PACKAGE}websocket.mjs`);
  const sockets = [];
  try {
    const wrong = startListen(["--edge", edge.url, "--token", "not the admin token", "--forward-to", "http://127.0.0.1:9/"]);
    assert.equal(await wrong.exited, 1, wrong.output.stderr);
    assert.match(wrong.output.stderr, /refused the admin token \(401/);
    for (const headers of [{}, { authorization: "Bearer wrong" }]) {
      const refused = await connectWebSocket(`${edge.url}/listen`, { headers }).then(() => null, (error) => error);
      assert.ok(refused instanceof HandshakeError, String(refused));
      assert.equal(refused.status, 401);
    }
    for (let i = 0; i < 5; i++) sockets.push(await connectWebSocket(`${edge.url}/listen`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }));
    const full = await connectWebSocket(`${edge.url}/listen`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then(() => null, (error) => error);
    assert.equal(full?.status, 503);
    assert.equal(JSON.parse(full.body).error, "too_many_listeners");
  } finally {
    for (const socket of sockets) socket.terminate();
    await edge.mf.dispose();
    await origin.close();
  }
});

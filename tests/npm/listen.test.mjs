// `threetone-webhooks listen`, the client side, against a WebSocket server
// written here (ws-server.mjs): the package's RFC 6455 client (handshake,
// frames, close, protocol errors, a refused upgrade), the listener
// (forwarding, filtering, reconnection after a drop and after a silent
// connection), and the CLI as installed. Against the Worker itself:
// tests/worker/listen.test.mjs.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

import { generateTestEvent } from "threetone-webhooks";

import { frame, startWebSocketServer, until } from "./ws-server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const dist = new URL("./node_modules/threetone-webhooks/dist/", import.meta.url);
// Internal modules of the installed package (not exported: the CLI's own).
const { DEFAULT_MAX_MESSAGE_BYTES, HandshakeError, connectWebSocket } = await import(new URL("websocket.mjs", dist).href);
const { listen } = await import(new URL("listen.mjs", dist).href);
const cli = join(here, "node_modules/.bin/threetone-webhooks");
const TOKEN = "admin_token_for_listen_tests";

/** Runs `fn(server)` with a WebSocket server that handles upgrades with `onUpgrade`, then stops it. */
async function withWebSocketServer(onUpgrade, fn) {
  const server = await startWebSocketServer(onUpgrade);
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

/** Collects a client's events: messages, pings, pongs, close. */
function record(socket) {
  const seen = { messages: [], pings: [], pongs: [], close: null, errors: [] };
  socket.on("message", (message) => seen.messages.push(message));
  socket.on("ping", (payload) => seen.pings.push(payload.toString()));
  socket.on("pong", (payload) => seen.pongs.push(payload.toString()));
  socket.on("error", (error) => seen.errors.push(error.message));
  socket.on("close", (code, reason) => (seen.close = { code, reason }));
  return seen;
}

test("WebSocket client: the handshake (version 13, a fresh 16-byte key, the caller's headers) and a text message each way, the client's masked", { timeout: 30_000 }, async () => {
  await withWebSocketServer(
    (_request, { accept }) => accept().send('{"type":"hello","listeners":1}'),
    async (server) => {
      const keys = [];
      for (let i = 0; i < 2; i++) {
        const socket = await connectWebSocket(`${server.url.replace("http:", "ws:")}/listen?events=call_started`, { headers: { authorization: "Bearer t" } });
        const seen = record(socket);
        await until(() => seen.messages.length === 1, "the hello");
        assert.deepEqual(seen.messages, ['{"type":"hello","listeners":1}']);
        socket.send("ping \u00e9");
        const side = server.connections[i];
        await until(() => side.frames.length === 1, "the client's frame");
        assert.deepEqual(side.frames.map(({ fin, opcode, masked }) => [fin, opcode, masked]), [[true, 1, true]]);
        assert.deepEqual(side.texts(), ["ping \u00e9"]);
        const request = server.upgrades[i];
        assert.equal(request.url, "/listen?events=call_started");
        assert.equal(request.headers["sec-websocket-version"], "13");
        assert.equal(request.headers.authorization, "Bearer t");
        assert.equal(request.headers.upgrade, "websocket");
        assert.equal(Buffer.from(request.headers["sec-websocket-key"], "base64").length, 16);
        keys.push(request.headers["sec-websocket-key"]);
        socket.close();
        await until(() => side.frames.length === 2, "the close frame");
        assert.equal(side.frames[1].opcode, 8);
        assert.equal(side.frames[1].payload.readUInt16BE(0), 1000);
      }
      assert.notEqual(keys[0], keys[1], "a new key per connection");
    },
  );
});

test("WebSocket client: fragmented text with a ping between fragments (answered), binary, 16- and 64-bit lengths, the close handshake", { timeout: 30_000 }, async () => {
  const large = "x".repeat(70_000);
  await withWebSocketServer(
    (_request, { accept }) => {
      const side = accept();
      side.write(Buffer.concat([frame(1, "frag", { fin: false }), frame(9, "are you there"), frame(0, "men", { fin: false }), frame(0, "ted \u00e9", { fin: true })]));
      side.write(frame(2, Buffer.from([0, 255, 1])));
      side.write(frame(1, "y".repeat(300)));
      side.write(frame(1, large));
      // Split across writes: a header in one chunk, its payload in the next.
      const split = frame(1, "split");
      side.write(split.subarray(0, 1));
      setTimeout(() => side.write(split.subarray(1)), 20);
      setTimeout(() => side.close(4001, "done \u00e9"), 40);
    },
    async (server) => {
      const socket = await connectWebSocket(server.url);
      const seen = record(socket);
      await until(() => seen.close !== null, "the close");
      assert.deepEqual(seen.messages.slice(0, 1), ["fragmented \u00e9"]);
      assert.deepEqual(seen.messages[1], Buffer.from([0, 255, 1]));
      assert.deepEqual(seen.messages.slice(2).map((text) => text.length), [300, 70_000, 5]);
      assert.equal(seen.messages[4], "split");
      assert.deepEqual(seen.pings, ["are you there"]);
      assert.deepEqual(seen.close, { code: 4001, reason: "done \u00e9" });
      const side = server.connections[0];
      await until(() => side.frames.length === 2, "the pong and the echoed close");
      assert.deepEqual(side.frames.map(({ opcode, masked }) => [opcode, masked]), [[10, true], [8, true]]);
      assert.equal(side.frames[0].payload.toString(), "are you there");
      assert.equal(side.frames[1].payload.readUInt16BE(0), 4001, "the close is echoed with its code");
      await side.closed;
    },
  );
});

test("WebSocket client: a protocol error closes the connection with its code (masked server frame 1002, bad UTF-8 1007, too large 1009)", { timeout: 30_000 }, async () => {
  const cases = [
    ["a masked frame", frame(1, "masked", { mask: true }), 1002],
    ["reserved bits", frame(1, "rsv", { rsv: 4 }), 1002],
    ["a continuation outside a message", frame(0, "orphan"), 1002],
    ["a fragmented ping", frame(9, "p", { fin: false }), 1002],
    ["text that is not UTF-8", frame(1, Buffer.from([0x68, 0xc3, 0x28])), 1007],
    ["a message over the limit", frame(1, "z".repeat(2000)), 1009],
    ["fragments over the limit together", Buffer.concat([frame(1, "z".repeat(600), { fin: false }), frame(0, "z".repeat(600))]), 1009],
  ];
  for (const [name, bytes, code] of cases) {
    await withWebSocketServer(
      (_request, { accept }) => accept().write(bytes),
      async (server) => {
        const socket = await connectWebSocket(server.url, { maxMessageBytes: 1024 });
        const seen = record(socket);
        await until(() => seen.close !== null, `the close after ${name}`);
        assert.equal(seen.close.code, code, name);
        assert.deepEqual(seen.messages, [], name);
        const side = server.connections[0];
        await until(() => side.frames.some((item) => item.opcode === 8), `the client's close frame after ${name}`);
        assert.equal(side.frames.find((item) => item.opcode === 8).payload.readUInt16BE(0), code, name);
      },
    );
  }
  assert.equal(DEFAULT_MAX_MESSAGE_BYTES, 16 * 1024 * 1024);
});

test("WebSocket client: a refused upgrade (401) is a HandshakeError with its status and body; a wrong Sec-WebSocket-Accept is refused too", { timeout: 30_000 }, async () => {
  await withWebSocketServer(
    (request, { accept, refuse }) => {
      if (request.url === "/bad-accept") accept({ acceptValue: "bm90IHRoZSBhbnN3ZXI=" });
      else if (request.url === "/extension") accept({ headers: { "Sec-WebSocket-Extensions": "permessage-deflate" } });
      else refuse(401, '{"error":"unauthorized"}');
    },
    async (server) => {
      const refused = await connectWebSocket(`${server.url}/listen`).then(() => null, (error) => error);
      assert.ok(refused instanceof HandshakeError, String(refused));
      assert.equal(refused.status, 401);
      assert.equal(refused.body, '{"error":"unauthorized"}');
      assert.match(refused.message, /refused the WebSocket: 401 Unauthorized/);
      const wrongAccept = await connectWebSocket(`${server.url}/bad-accept`).then(() => null, (error) => error);
      assert.match(String(wrongAccept?.message), /Sec-WebSocket-Accept does not match/);
      const extension = await connectWebSocket(`${server.url}/extension`).then(() => null, (error) => error);
      assert.match(String(extension?.message), /an extension the client did not ask for/);
    },
  );
});

/**
 * A fake threetone-edge /listen (the protocol of the Worker's GET /listen): 401 without the token, a hello, `pong`
 * for `ping` unless `silent`. Resolves to the server and `push(frame)` that sends an event to every listener.
 */
async function startFakeEdge({ silent = () => false } = {}) {
  const server = await startWebSocketServer((request, { accept, refuse }) => {
    if (request.headers.authorization !== `Bearer ${TOKEN}`) return refuse(401, '{"error":"unauthorized"}');
    const side = accept();
    side.send(JSON.stringify({ type: "hello", listeners: server.connections.length }));
    side.onFrame = ({ opcode, payload }) => {
      if (opcode === 1 && payload.toString() === "ping" && !silent(side)) side.send("pong");
    };
  });
  const push = (event, { route = "/webhooks/threetone", callId } = {}) => {
    const body = Buffer.from(event.body);
    const parsed = JSON.parse(event.body);
    const streamed = {
      type: "event",
      route,
      event: parsed.event,
      call_id: callId === undefined ? (parsed.data.call_id ?? null) : callId,
      delivery_id: `dlv_${createHmac("sha256", "id").update(body).digest("hex").slice(0, 32)}`,
      received_at: "2026-12-02T17:30:00Z",
      content_type: "application/json",
      body_base64: body.toString("base64"),
    };
    for (const side of server.connections) if (!side.socket.destroyed) side.send(JSON.stringify(streamed));
    return streamed;
  };
  return { ...server, push };
}

/** A local endpoint that records each request (headers, exact body) and answers `status`. */
async function startEndpoint(status = 200) {
  const received = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      received.push({ url: request.url, headers: request.headers, body: Buffer.concat(chunks) });
      response.writeHead(status, { "content-type": "application/json" }).end("{}");
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

/** Whether `signature` is `body`'s under `secret`, by Node's own crypto. */
function signedBy(body, signature, secret) {
  const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(body).digest("hex")}`);
  const got = Buffer.from(String(signature));
  return expected.length === got.length && timingSafeEqual(expected, got);
}

test("listen: each event's exact body re-signed to the local URL with its headers, filtered by type, one line each", { timeout: 30_000 }, async () => {
  const edge = await startFakeEdge();
  const endpoint = await startEndpoint(202);
  const lines = [];
  const reports = [];
  const listener = listen({ edge: edge.url, token: TOKEN, forwardTo: endpoint.url, secret: "whsec_local", events: ["call_ended", "system_error"], print: (line) => lines.push(line), report: (line) => reports.push(line) });
  try {
    await until(() => reports.some((line) => line.includes("ready")), "ready");
    assert.equal(edge.upgrades[0].url, "/listen?events=call_ended%2Csystem_error");
    const ended = edge.push(generateTestEvent("call_ended", { secret: "whsec_edge", id: "one" }));
    edge.push(generateTestEvent("call_started", { secret: "whsec_edge", id: "filtered" })); // filtered here too
    const failure = edge.push(generateTestEvent("system_error", { secret: "whsec_edge", id: "two" }), { callId: null });
    await until(() => lines.length === 2, "two lines");
    assert.equal(endpoint.received.length, 2);
    for (const [received, streamed] of [[endpoint.received[0], ended], [endpoint.received[1], failure]]) {
      assert.deepEqual(received.body, Buffer.from(streamed.body_base64, "base64"), "the exact bytes");
      assert.ok(signedBy(received.body, received.headers["x-threetone-signature"], "whsec_local"), "signed with the local secret");
      assert.equal(received.headers["content-type"], "application/json");
      assert.equal(received.headers["x-threetone-event"], streamed.event);
      assert.equal(received.headers["x-threetone-delivery-id"], streamed.delivery_id);
      assert.equal(received.url, "/webhooks/threetone");
    }
    assert.match(lines[0], /^2026-12-02T17:30:00Z {2}call_ended {2}call_one {2}202 {2}\d+ ms$/);
    assert.match(lines[1], /^2026-12-02T17:30:00Z {2}system_error {2}- {2}202 {2}\d+ ms$/);
  } finally {
    await listener.stop();
    assert.equal(await listener.finished, 0);
    await endpoint.close();
    await edge.close();
  }
});

test("listen: reconnects with backoff after the server drops the socket, and after a connection stops answering pings", { timeout: 30_000 }, async () => {
  let silentFrom = Infinity;
  const edge = await startFakeEdge({ silent: (side) => edge.connections.indexOf(side) >= silentFrom });
  const endpoint = await startEndpoint();
  const lines = [];
  const reports = [];
  const listener = listen({
    edge: edge.url,
    token: TOKEN,
    forwardTo: endpoint.url,
    secret: "whsec_local",
    print: (line) => lines.push(line),
    report: (line) => reports.push(line),
    pingIntervalMs: 50,
    pongTimeoutMs: 100,
    backoffMs: [20, 40],
  });
  try {
    await until(() => edge.connections.length === 1 && reports.some((line) => line.includes("ready")), "the first connection");
    // Pings are answered: the connection stays.
    await until(() => edge.connections[0].texts().filter((text) => text === "ping").length >= 3, "three pings");
    assert.equal(edge.connections.length, 1);
    edge.connections[0].drop();
    await until(() => edge.connections.length === 2 && reports.filter((line) => line.includes("ready")).length === 2, "a second connection");
    assert.ok(reports.some((line) => /closed \(1006\); reconnecting in 20 ms/.test(line)), reports.join("\n"));
    edge.push(generateTestEvent("call_ended", { secret: "x", id: "after_drop" }));
    await until(() => lines.length === 1, "the event after the reconnection");
    assert.match(lines[0], /call_after_drop {2}200/);
    // The next connections ignore pings: each is given up and replaced.
    silentFrom = 2;
    edge.connections[1].close(1012, "restart");
    await until(() => edge.connections.length >= 4, "connections after silent ones");
    assert.ok(reports.some((line) => /no answer from .* for 100 ms after a ping/.test(line)), reports.join("\n"));
  } finally {
    await listener.stop();
    await endpoint.close();
    await edge.close();
  }
});

/** Runs the CLI with `args`; resolves to `{ child, output, exited }` (output.stdout and output.stderr grow). */
function startCli(args, env = {}) {
  const { THREETONE_ADMIN_TOKEN: _, THREETONE_LISTEN_SECRET: __, ...rest } = process.env;
  const child = spawn(cli, args, { env: { ...rest, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const output = { stdout: "", stderr: "" };
  child.stdout.on("data", (data) => (output.stdout += data));
  child.stderr.on("data", (data) => (output.stderr += data));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  return { child, output, exited };
}

test("CLI listen: prints a fresh whsec_ secret, forwards to a server that verifies it with node:crypto, one line per event; Ctrl-C ends it", { timeout: 30_000 }, async () => {
  const edge = await startFakeEdge();
  const endpoint = await startEndpoint();
  const secrets = [];
  try {
    for (let run = 0; run < 2; run++) {
      const { child, output, exited } = startCli(["listen", "--edge", edge.url, "--forward-to", endpoint.url], { THREETONE_ADMIN_TOKEN: TOKEN });
      try {
        await until(() => /ready/.test(output.stderr), `ready\n${output.stderr}`, 10_000);
        const secret = output.stdout.match(/^Your webhook signing secret is (whsec_[0-9a-f]{32}) /)?.[1];
        assert.ok(secret, output.stdout);
        secrets.push(secret);
        const event = generateTestEvent("call_started", { secret: "edge", id: `cli${run}` });
        edge.push(event);
        await until(() => output.stdout.split("\n").length >= 3, `the event's line\n${output.stdout}`);
        const received = endpoint.received.at(-1);
        assert.equal(received.body.toString(), event.body);
        assert.ok(signedBy(received.body, received.headers["x-threetone-signature"], secret), "the printed secret signs it");
        assert.match(output.stdout.split("\n")[1], new RegExp(`call_started {2}call_cli${run} {2}200 {2}\\d+ ms$`));
        assert.ok(!output.stdout.includes(TOKEN) && !output.stderr.includes(TOKEN), "the token is never printed");
        child.kill("SIGINT");
        assert.equal(await exited, 0, output.stderr);
      } finally {
        child.kill();
        await exited;
      }
    }
    assert.notEqual(secrets[0], secrets[1], "a new secret on each start");
    // --secret (or THREETONE_LISTEN_SECRET) signs instead, and is not printed.
    const { child, output, exited } = startCli(["listen", "--edge", edge.url, "--forward-to", endpoint.url, "--token", TOKEN], { THREETONE_LISTEN_SECRET: "whsec_mine" });
    try {
      await until(() => /ready/.test(output.stderr), "ready", 10_000);
      assert.match(output.stdout, /^Signing forwarded events with the secret from THREETONE_LISTEN_SECRET\n/);
      edge.push(generateTestEvent("call_ended", { secret: "edge", id: "mine" }));
      await until(() => endpoint.received.length === 3, "the third event");
      assert.ok(signedBy(endpoint.received[2].body, endpoint.received[2].headers["x-threetone-signature"], "whsec_mine"));
      assert.ok(!output.stdout.includes("whsec_mine") && !output.stderr.includes("whsec_mine"));
      child.kill("SIGINT");
      assert.equal(await exited, 0);
    } finally {
      child.kill();
      await exited;
    }
  } finally {
    await endpoint.close();
    await edge.close();
  }
});

test("CLI listen: a refused token is reported clearly (exit 1); no token or no --forward-to is a usage error (exit 2)", { timeout: 30_000 }, async () => {
  const edge = await startFakeEdge();
  try {
    const refused = startCli(["listen", "--edge", edge.url, "--forward-to", "http://127.0.0.1:9/", "--token", "wrong"]);
    assert.equal(await refused.exited, 1);
    assert.match(refused.output.stderr, /refused the admin token \(401 unauthorized\): check --token or THREETONE_ADMIN_TOKEN/);
    assert.ok(!refused.output.stderr.includes("wrong"), "the token is not printed");
    const noToken = startCli(["listen", "--edge", edge.url, "--forward-to", "http://127.0.0.1:9/"]);
    assert.equal(await noToken.exited, 2);
    assert.match(noToken.output.stderr, /--token is required \(or set THREETONE_ADMIN_TOKEN\)/);
    const noTarget = startCli(["listen", "--edge", edge.url, "--token", TOKEN]);
    assert.equal(await noTarget.exited, 2);
    assert.match(noTarget.output.stderr, /--forward-to is required/);
    assert.equal(edge.connections.length, 0);
    const help = startCli(["listen", "--help"]);
    assert.equal(await help.exited, 0);
    assert.match(help.output.stdout, /^Usage: threetone-webhooks listen --edge URL --token TOKEN --forward-to URL/);
    assert.match(help.output.stdout, /THREETONE_ADMIN_TOKEN/);
  } finally {
    await edge.close();
  }
});

// The CLI, as installed: sign and verify against Node's own crypto, and send
// every event type to a local server that verifies with Node's own crypto;
// the secret from the environment; send never follows a redirect, and warns
// before plain http:// to another machine.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { createHmac, timingSafeEqual } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

import { EVENT_TYPES } from "threetone-webhooks";

const cli = join(dirname(fileURLToPath(import.meta.url)), "node_modules/.bin/threetone-webhooks");
const SECRET = "whsec_cli";
const nodeSign = (body, secret = SECRET) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

/** The environment without the secret variable, plus `env`. */
function environment(env = {}) {
  const { THREETONE_WEBHOOK_SECRET: _, ...rest } = process.env;
  return { ...rest, ...env };
}

/** Runs the CLI; resolves to `{ code, stdout, stderr }` whatever the exit code. */
function threetone(args, env) {
  return new Promise((resolve) => {
    execFile(cli, args, { env: environment(env) }, (error, stdout, stderr) => resolve({ code: error?.code ?? 0, stdout, stderr }));
  });
}

/** Runs `fn(url)` against a server on 127.0.0.1:0 answering with `handler`. */
async function withServer(handler, fn) {
  const server = http.createServer(handler);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    return await fn(`http://127.0.0.1:${server.address().port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test("--help for the CLI and each command", async () => {
  const main = await threetone(["--help"]);
  assert.equal(main.code, 0);
  assert.match(main.stdout, /sign {3}.*\n.*verify.*\n.*send/);
  assert.match(main.stdout, /THREETONE_WEBHOOK_SECRET/);
  for (const command of ["sign", "verify", "send"]) {
    const help = await threetone([command, "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, new RegExp(`^Usage: threetone-webhooks ${command}`));
    assert.match(help.stdout, /THREETONE_WEBHOOK_SECRET/);
  }
  const unknown = await threetone(["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command/);
  const missing = await threetone(["sign"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--secret is required \(or set THREETONE_WEBHOOK_SECRET\)/);
  assert.equal((await threetone(["sign"], { THREETONE_WEBHOOK_SECRET: "" })).code, 2, "an empty variable is no secret");
});

test("sign and verify a file, as Node's crypto does", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cli-"));
  try {
    const file = join(dir, "body.json");
    const body = '{"event":"call_started","data":{}}\n';
    writeFileSync(file, body);
    const signed = await threetone(["sign", "--secret", SECRET, file]);
    assert.equal(signed.stdout.trim(), nodeSign(body));
    const valid = await threetone(["verify", "--secret", "old", "--secret", SECRET, "--signature", nodeSign(body), file]);
    assert.deepEqual([valid.code, valid.stdout.trim()], [0, "valid"]);
    const invalid = await threetone(["verify", "--secret", SECRET, "--signature", nodeSign(body, "other"), file]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stdout, /^invalid: signature_mismatch/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("send delivers a signed sample of every event type", async () => {
  const received = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      const expected = Buffer.from(nodeSign(body));
      const got = Buffer.from(String(request.headers["x-threetone-signature"]));
      const authentic = expected.length === got.length && timingSafeEqual(expected, got);
      received.push({ authentic, event: JSON.parse(body).event });
      response.writeHead(authentic ? 200 : 401, { "content-type": "application/json" });
      response.end(JSON.stringify({ ok: authentic }));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}/webhooks/threetone`;
  try {
    for (const type of EVENT_TYPES) {
      const sent = await threetone(["send", "--url", url, "--secret", SECRET, "--event", type]);
      assert.equal(sent.code, 0, sent.stderr);
      assert.match(sent.stdout, /^200 OK\n\{"ok":true\}/);
      assert.equal(sent.stderr, "", "no warning for 127.0.0.1");
    }
    const wrong = await threetone(["send", "--url", url, "--secret", "not it", "--event", "call_ended"]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stdout, /^401/);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  assert.deepEqual(received.map((item) => item.event), [...EVENT_TYPES, "call_ended"]);
  assert.deepEqual(received.map((item) => item.authentic), [...EVENT_TYPES.map(() => true), false]);
});

test("the secret from THREETONE_WEBHOOK_SECRET, for sign, verify and send; --secret wins", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cli-env-"));
  try {
    const file = join(dir, "body.json");
    writeFileSync(file, '{"event":"call_started"}');
    const env = { THREETONE_WEBHOOK_SECRET: SECRET };
    assert.equal((await threetone(["sign", file], env)).stdout.trim(), nodeSign('{"event":"call_started"}'));
    const wins = await threetone(["sign", "--secret", "other", file], env);
    assert.equal(wins.stdout.trim(), nodeSign('{"event":"call_started"}', "other"));
    const valid = await threetone(["verify", "--signature", nodeSign('{"event":"call_started"}'), file], env);
    assert.deepEqual([valid.code, valid.stdout.trim()], [0, "valid"]);
    const invalid = await threetone(["verify", "--signature", nodeSign('{"event":"call_started"}'), file], { THREETONE_WEBHOOK_SECRET: "other" });
    assert.match(invalid.stdout, /^invalid: signature_mismatch/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const signatures = [];
  await withServer(
    (request, response) => {
      const chunks = [];
      request.on("data", (chunk) => chunks.push(chunk));
      request.on("end", () => {
        signatures.push([request.headers["x-threetone-signature"], nodeSign(Buffer.concat(chunks))]);
        response.end("{}");
      });
    },
    async (url) => {
      const sent = await threetone(["send", "--url", url, "--event", "call_ended"], { THREETONE_WEBHOOK_SECRET: SECRET });
      assert.equal(sent.code, 0, sent.stderr);
    },
  );
  assert.equal(signatures.length, 1);
  assert.equal(signatures[0][0], signatures[0][1]);
});

test("send does not follow a redirect: the second server never sees the signed body", async () => {
  const reached = [];
  await withServer(
    (request, response) => {
      reached.push(request.method);
      request.resume();
      response.end("{}");
    },
    (final) =>
      withServer(
        (request, response) => {
          request.resume();
          response.writeHead(307, { location: `${final}/elsewhere` }).end();
        },
        async (url) => {
          const sent = await threetone(["send", "--url", url, "--secret", SECRET, "--event", "call_ended"]);
          assert.equal(sent.code, 1);
          assert.match(sent.stdout, new RegExp(`^307 Temporary Redirect\nLocation: ${final}/elsewhere\n`));
          assert.match(sent.stderr, /redirect not followed/);
        },
      ),
  );
  assert.deepEqual(reached, []);
});

test("send warns before plain http:// to another host, never for loopback", async () => {
  // Nothing answers there (and nothing is reached): the warning comes before the request.
  const child = spawn(cli, ["send", "--url", "http://example.invalid:9/webhooks", "--secret", SECRET, "--event", "call_ended"], {
    env: environment(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (data) => (stderr += data));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const deadline = Date.now() + 10_000;
  while (!stderr.includes("\n") && child.exitCode === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  child.kill();
  await exited;
  assert.match(stderr, /^threetone-webhooks: warning: example\.invalid:9 is reached over plain http:\/\/: the signed body crosses the network unencrypted\n/);
  for (const loopback of ["http://localhost:9/", "http://127.0.0.2:9/", "http://[::1]:9/"]) {
    const sent = await threetone(["send", "--url", loopback, "--secret", SECRET, "--event", "call_ended"]);
    assert.equal(sent.code, 1, loopback);
    assert.doesNotMatch(sent.stderr, /warning/, loopback);
    assert.match(sent.stderr, /cannot send to/, loopback);
  }
});

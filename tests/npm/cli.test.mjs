// The CLI, as installed: sign and verify against Node's own crypto, and send
// every event type to a local server that verifies with Node's own crypto.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
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

/** Runs the CLI; resolves to `{ code, stdout, stderr }` whatever the exit code. */
function threetone(args) {
  return new Promise((resolve) => {
    execFile(cli, args, (error, stdout, stderr) => resolve({ code: error?.code ?? 0, stdout, stderr }));
  });
}

test("--help for the CLI and each command", async () => {
  const main = await threetone(["--help"]);
  assert.equal(main.code, 0);
  assert.match(main.stdout, /sign {3}.*\n.*verify.*\n.*send/);
  for (const command of ["sign", "verify", "send"]) {
    const help = await threetone([command, "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, new RegExp(`^Usage: threetone-webhooks ${command}`));
  }
  const unknown = await threetone(["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command/);
  const missing = await threetone(["sign"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--secret is required/);
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

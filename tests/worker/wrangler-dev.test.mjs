// Smoke test of the main job: worker/dev.mjs (what `cargo xtask dev` runs)
// starts a demo origin and `wrangler dev`, sends one signed event through the
// Worker, and with --once stops everything it started.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import { test } from "node:test";

import { ROOT } from "./harness.mjs";

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

test("wrangler dev serves the Worker, delivers a signed event, and stops cleanly", { timeout: 180_000 }, async () => {
  const port = await freePort();
  const dev = spawn(process.execPath, [`${ROOT}worker/dev.mjs`, "--once", "--port", String(port), "--origin-port", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  dev.stdout.on("data", (data) => (output += data));
  dev.stderr.on("data", (data) => (output += data));
  const code = await new Promise((resolve) => dev.on("exit", resolve));

  assert.equal(code, 0, output);
  // One route fanning out to two destinations; ops fails its first attempt,
  // so the sender's retry reaches ops alone.
  assert.match(output, /crm {5}<- call_started call_[0-9a-f]+: \d+ bytes, signature ok, delivery dlv_[0-9a-f]{32}\n/);
  assert.match(output, /ops {5}<- call_started call_[0-9a-f]+: \d+ bytes, signature ok, delivery dlv_[0-9a-f]{32}, answering 503/);
  assert.match(output, /sender {2}<- 503 \{"error":"origin_unreachable"|sender {2}<- 502 \{"error":"origin_error"/);
  assert.match(output, /sender {2}<- 200 \{"status":"delivered","destinations":\{"crm":\{"status":"duplicate"\},"ops":\{"status":"delivered","origin_status":200\}\}\}/);
  assert.equal(output.match(/crm {5}<- call_started/g).length, 1, output);
  assert.equal(output.match(/ops {5}<- call_started/g).length, 2, output);
  assert.doesNotMatch(output, /whsec_local_/, "the generated secret was printed");
  // Everything it started is gone: the Worker's port is free again.
  const stillListening = await new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => (socket.destroy(), resolve(true)));
    socket.on("error", () => resolve(false));
  });
  assert.equal(stillListening, false);
});

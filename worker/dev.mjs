#!/usr/bin/env node
// The local demo of threetone-edge (run it with `cargo xtask dev`, which builds first):
//   1. two demo destinations on 127.0.0.1 that print each event they receive:
//      `crm` (port 8788) and `ops` (the next port), which fails the first
//      attempt of each event, so a retry shows reaching only the one that failed,
//   2. `wrangler dev` on 127.0.0.1:8787 in front of them, one route fanning out
//      to both (ROUTES), with a freshly generated secret,
//   3. one signed sample event sent through the Worker, as ThreeTone would
//      send it, and retried as ThreeTone would retry it.
// Then it keeps running until Ctrl-C and stops everything it started.
//
// Options: --port N (Worker, default 8787), --origin-port N (default 8788, 0 = any),
// --once (stop after the sample; exit 0 only if both destinations have it).

import { spawn } from "node:child_process";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = fileURLToPath(new URL(".", import.meta.url));
const { values: args } = parseArgs({
  options: {
    port: { type: "string", default: "8787" },
    "origin-port": { type: "string", default: "8788" },
    once: { type: "boolean", default: false },
  },
});

const secret = `whsec_local_${randomBytes(16).toString("hex")}`;
const adminToken = randomBytes(16).toString("hex");
const sign = (body) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

// 1. The demo destinations.
const seen = new Set();
function destination(name, { failFirst }) {
  return http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      const expected = Buffer.from(sign(body));
      const received = Buffer.from(String(request.headers["x-threetone-signature"] ?? ""));
      const authentic = expected.length === received.length && timingSafeEqual(expected, received);
      let summary = "";
      try {
        const event = JSON.parse(body);
        summary = `${event.event} ${event.data?.call_id ?? ""}`.trim();
      } catch {
        summary = "(not JSON)";
      }
      const id = request.headers["x-threetone-delivery-id"];
      const failing = failFirst && authentic && !seen.has(id);
      seen.add(id);
      const status = !authentic ? 401 : failing ? 503 : 200;
      console.log(
        `${name.padEnd(7)} <- ${summary}: ${body.length} bytes, signature ${authentic ? "ok" : "WRONG"}, ` +
          `delivery ${id}${failing ? ", answering 503 (its first attempt fails, on purpose)" : ""}`,
      );
      response.writeHead(status, { "content-type": "text/plain" });
      response.end(status === 200 ? "received" : "not now");
    });
  });
}
const crm = destination("crm", { failFirst: false });
const ops = destination("ops", { failFirst: true });
await new Promise((resolve) => crm.listen(Number(args["origin-port"]), "127.0.0.1", resolve));
const opsPort = args["origin-port"] === "0" ? 0 : crm.address().port + 1;
await new Promise((resolve) => ops.listen(opsPort, "127.0.0.1", resolve));
const urlOf = (server) => `http://127.0.0.1:${server.address().port}/webhooks/threetone`;
console.log(`crm     listening on ${urlOf(crm)}`);
console.log(`ops     listening on ${urlOf(ops)}`);
const routes = [
  {
    path: "/webhooks/threetone",
    secrets: ["WEBHOOK_SECRET"],
    destinations: [
      { name: "crm", url: urlOf(crm) },
      { name: "ops", url: urlOf(ops), events: ["call_started", "call_ended", "system_error"] },
    ],
  },
];

// 2. wrangler dev, configured on the command line (no file is written).
const state = mkdtempSync(join(tmpdir(), "threetone-edge-"));
const vars = {
  WEBHOOK_SECRET: secret,
  ROUTES: JSON.stringify(routes),
  ALLOW_INSECURE_ORIGIN: "true",
  ADMIN_TOKEN: adminToken,
};
const wrangler = spawn(
  process.execPath,
  [
    join(here, "node_modules/wrangler/bin/wrangler.js"),
    "dev",
    "--ip", "127.0.0.1",
    "--port", args.port,
    "--inspector-port", "0",
    "--persist-to", state,
    "--show-interactive-dev-session=false",
    ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
  ],
  {
    cwd: here,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    stdio: ["ignore", "pipe", "pipe"],
  },
);
const wranglerExit = new Promise((resolve) => wrangler.on("exit", resolve));
// Show wrangler's output, minus the --var values it echoes (they include the secret).
for (const stream of [wrangler.stdout, wrangler.stderr]) {
  stream.on("data", (data) => {
    for (const line of String(data).split("\n")) {
      if (line.trim() && !line.includes(secret) && !line.includes(adminToken)) console.log(`wrangler| ${line}`);
    }
  });
}

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  console.log("stopping wrangler dev and the demo destinations");
  wrangler.kill("SIGINT");
  const timer = setTimeout(() => wrangler.kill("SIGKILL"), 10_000);
  await wranglerExit;
  clearTimeout(timer);
  for (const server of [crm, ops]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  rmSync(state, { recursive: true, force: true });
  process.exit(code);
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
wranglerExit.then((code) => stopping || (console.error(`wrangler dev exited (${code})`), stop(1)));

const edge = `http://127.0.0.1:${args.port}`;
const deadline = Date.now() + 120_000;
for (;;) {
  try {
    if ((await fetch(`${edge}/health`)).ok) break;
  } catch {
    // not listening yet
  }
  if (Date.now() > deadline) {
    console.error("wrangler dev did not become ready within 120 s");
    await stop(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 250));
}

// 3. One signed sample event, as ThreeTone sends it.
const sample = JSON.parse(readFileSync(join(here, "../tests/vectors/payloads/call_started.json"), "utf8"));
sample.timestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
sample.data.call_id = `call_${randomBytes(4).toString("hex")}`;
const body = JSON.stringify(sample);
async function send(attempt) {
  console.log(`sender  -> POST ${edge}/webhooks/threetone (${sample.event} ${sample.data.call_id}, signed, attempt ${attempt})`);
  const response = await fetch(`${edge}/webhooks/threetone`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-threetone-signature": sign(body) },
    body,
  });
  const answer = await response.text();
  console.log(`sender  <- ${response.status} ${answer}`);
  return response.status;
}
// ThreeTone retries a 5xx after its retry_delay (5 s; 1 s here).
let status = await send(1);
for (let attempt = 2; status >= 500 && attempt <= 3; attempt++) {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  status = await send(attempt);
}
const delivered = status === 200;

if (args.once) {
  await stop(delivered ? 0 : 1);
} else {
  console.log(`\nthreetone-edge is running on ${edge} (secret and admin token generated for this run).`);
  console.log(`  curl ${edge}/health`);
  console.log(`  curl -H 'Authorization: Bearer ${adminToken}' ${edge}/logs`);
  console.log(`  curl -H 'Authorization: Bearer ${adminToken}' -d '{"event_type":"call_ended"}' ${edge}/test`);
  console.log("Press Ctrl-C to stop.");
}

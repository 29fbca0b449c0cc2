// Benchmark (not a test): the packed npm package against its peers, in one
// Node process, on the same bodies. Run by `cargo xtask bench` from the
// consumer project where the tarball is installed (target/npm/consumer).
//
//   verify:          ours | node:crypto createHmac + timingSafeEqual (the seed's handler)
//                    | crypto.subtle.verify (key imported once) | @octokit/webhooks-methods verify
//   constructEvent:  ours | node:crypto verify + JSON.parse
// Then the package sizes.

import { createHmac, timingSafeEqual } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import { verify as octokitVerify } from "@octokit/webhooks-methods";
import { Webhook } from "threetone-webhooks";

const SECRET = "whsec_benchmark_secret";
const SIZES = [256, 1024, 4 * 1024, 16 * 1024, 64 * 1024];
const DURATION_MS = Number(process.env.BENCH_MS ?? 400);

/** A valid `system_error` event of exactly `size` bytes (as the criterion bench). */
function eventOfSize(size) {
  const frame = (message) =>
    `{"event":"system_error","timestamp":"2024-01-15T10:35:00Z","data":{"error_code":"asr_unavailable","severity":"high","component":"speech_to_text","call_id":"call_abc123","error_message":"${message}"}}`;
  return frame("x".repeat(size - frame("").length));
}

/** Operations per second of `fn` (sync or async), after a warm-up. */
async function opsPerSecond(fn) {
  const run = async (ms) => {
    let count = 0;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      for (let i = 0; i < 64; i++) {
        const result = fn();
        if (result instanceof Promise) await result;
      }
      count += 64;
    }
    return count;
  };
  await run(DURATION_MS / 4);
  const started = performance.now();
  const count = await run(DURATION_MS);
  return count / ((performance.now() - started) / 1000);
}

const webhook = new Webhook(SECRET);
const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
const rows = [];
for (const size of SIZES) {
  const text = eventOfSize(size);
  const bytes = Buffer.from(text);
  const header = webhook.sign(bytes);
  const digest = Buffer.from(header.slice(7), "hex");
  const nodeVerify = () => timingSafeEqual(createHmac("sha256", SECRET).update(bytes).digest(), digest);
  const checks = [webhook.verify(bytes, header), nodeVerify(), await crypto.subtle.verify("HMAC", key, digest, bytes), await octokitVerify(SECRET, text, header)];
  if (!checks.every(Boolean)) throw new Error(`a verifier disagrees at ${size} B: ${checks}`);
  rows.push({
    size,
    ours: await opsPerSecond(() => webhook.verify(bytes, header)),
    oursString: await opsPerSecond(() => webhook.verify(text, header)),
    node: await opsPerSecond(nodeVerify),
    subtle: await opsPerSecond(() => crypto.subtle.verify("HMAC", key, digest, bytes)),
    octokit: await opsPerSecond(() => octokitVerify(SECRET, text, header)),
    construct: await opsPerSecond(() => webhook.constructEvent(bytes, header)),
    nodeParse: await opsPerSecond(() => nodeVerify() && JSON.parse(bytes.toString("utf8"))),
  });
}

const k = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(1)}k`);
const x = (a, b) => `${(a / b).toFixed(2)}x`;
console.log(`\nnpm package in Node ${process.version}: ops/s (ratio = ours / peer, higher is better for ours)`);
console.log("| body | ours verify (Buffer) | ours (string) | node:crypto | ratio | subtle.verify | ratio | @octokit | ratio | ours constructEvent | node:crypto + JSON.parse | ratio |");
console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  console.log(
    `| ${r.size} B | ${k(r.ours)} | ${k(r.oursString)} | ${k(r.node)} | ${x(r.ours, r.node)} | ${k(r.subtle)} | ${x(r.ours, r.subtle)} | ` +
      `${k(r.octokit)} | ${x(r.ours, r.octokit)} | ${k(r.construct)} | ${k(r.nodeParse)} | ${x(r.construct, r.nodeParse)} |`,
  );
}

const packageDir = join(process.cwd(), "node_modules/threetone-webhooks");
const files = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)]));
const unpacked = files(packageDir).reduce((total, file) => total + statSync(file).size, 0);
const wasm = readFileSync(join(packageDir, "dist/threetone_webhooks_bg.wasm"));
console.log(`\nwasm: ${(wasm.length / 1000).toFixed(1)} KB raw, ${(gzipSync(wasm, { level: 9 }).length / 1000).toFixed(1)} KB gzip (budget 100 / 40)`);
console.log(`package unpacked: ${(unpacked / 1000).toFixed(1)} KB (budget 250)`);

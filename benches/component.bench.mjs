// Benchmark (not a test): calls per second of `verify` on a 1 KiB body through
// the Wasm component transpiled by jco, and the component's size (raw and
// gzip). Run with `cargo xtask bench` (it builds and transpiles first), or by
// hand after `cargo xtask component` and `jco transpile` into
// target/component/js/.
//
// Options: --seconds S (measuring time, default 3).

import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const COMPONENT = `${ROOT}target/component/threetone-webhooks.wasm`;
const { webhooks } = await import(`${ROOT}target/component/js/threetone-webhooks.js`);

const { values: args } = parseArgs({ options: { seconds: { type: "string", default: "3" } } });
const SECONDS = Number(args.seconds);

const SECRET = "whsec_bench_secret";
const body = Buffer.alloc(1024, "a");
const header = `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;
const verifier = webhooks.Verifier.new(Buffer.from(SECRET));

/** Calls `verify` for about `seconds`, in batches; returns calls per second. */
function callsPerSecond(seconds) {
  const batch = 1000;
  let calls = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < end) {
    for (let i = 0; i < batch; i++) verifier.verify(body, header);
    calls += batch;
    now = process.hrtime.bigint();
  }
  return calls / (Number(now - start) / 1e9);
}

callsPerSecond(0.5); // warm up
const rate = callsPerSecond(SECONDS);
const wasm = readFileSync(COMPONENT);
console.log(`component: ${wasm.length} bytes raw, ${gzipSync(wasm, { level: 9 }).length} bytes gzip -9`);
const perCall = `${(1e6 / rate).toFixed(2)} µs/call`;
console.log(`node ${process.version} (jco transpile): verify 1 KiB body: ${Math.round(rate)} calls/s (${perCall})`);

// Benchmark (not a test): the packed npm package against its peers, in one
// Node process, on the same bodies. Run by `cargo xtask bench` from the
// consumer project where the tarball is installed (target/npm/consumer).
//
//   verify:          ours | node:crypto createHmac + timingSafeEqual (the seed's handler)
//                    | crypto.subtle.verify (key imported once) | @octokit/webhooks-methods verify
//   constructEvent:  ours | node:crypto verify + JSON.parse
//
// Prints one table (ops/s, MB/s, and ours / peer) and the package sizes, and
// writes an SVG plot of throughput against body size to the path given as
// the first argument (benches/throughput.svg in the repository).

import { createHmac, timingSafeEqual } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import { verify as octokitVerify } from "@octokit/webhooks-methods";
import { Webhook } from "threetone-webhooks";

const SECRET = "whsec_benchmark_secret";
const SIZES = [256, 1024, 4 * 1024, 16 * 1024, 64 * 1024];
const DURATION_MS = Number(process.env.BENCH_MS ?? 200);
/** Rounds per cell; each implementation keeps its best, as timeit advises on a shared machine. */
const ROUNDS = 3;
const plotPath = process.argv[2];

/** A valid `system_error` event of exactly `size` bytes (as the criterion bench). */
function eventOfSize(size) {
  const frame = (message) =>
    `{"event":"system_error","timestamp":"2024-01-15T10:35:00Z","data":{"error_code":"asr_unavailable","severity":"high","component":"speech_to_text","call_id":"call_abc123","error_message":"${message}"}}`;
  return frame("x".repeat(size - frame("").length));
}

/** Operations per second of `fn` (sync or async), after a warm-up. */
async function opsPerSecond(fn, { warmUp = true } = {}) {
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
  if (warmUp) await run(DURATION_MS / 2);
  const started = performance.now();
  const count = await run(DURATION_MS);
  return count / ((performance.now() - started) / 1000);
}

// What is measured, and against which of ours each peer is compared.
const SERIES = [
  { key: "ours", label: "threetone-webhooks verify (Buffer)", color: "#d9480f", ours: true },
  { key: "oursString", label: "threetone-webhooks verify (string)", color: "#f08c00", dashed: true, ours: true },
  { key: "node", label: "node:crypto createHmac + timingSafeEqual", color: "#1c7ed6", versus: "ours" },
  { key: "subtle", label: "crypto.subtle.verify", color: "#7048e8", versus: "ours" },
  { key: "octokit", label: "@octokit/webhooks-methods verify", color: "#2b8a3e", versus: "ours" },
  { key: "construct", label: "threetone-webhooks constructEvent", color: "#c2255c", ours: true },
  { key: "nodeParse", label: "node:crypto verify + JSON.parse", color: "#495057", dashed: true, versus: "construct" },
];

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
  const cases = {
    ours: () => webhook.verify(bytes, header),
    oursString: () => webhook.verify(text, header),
    node: nodeVerify,
    subtle: () => crypto.subtle.verify("HMAC", key, digest, bytes),
    octokit: () => octokitVerify(SECRET, text, header),
    construct: () => webhook.constructEvent(bytes, header),
    nodeParse: () => nodeVerify() && JSON.parse(bytes.toString("utf8")),
  };
  // Rounds alternate between the implementations, so that a slow moment of
  // the machine does not land on one of them only.
  const row = { size };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, fn] of Object.entries(cases)) {
      row[name] = Math.max(row[name] ?? 0, await opsPerSecond(fn, { warmUp: round === 0 }));
    }
  }
  rows.push(row);
}

const ops = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(1)}k`);
const megabytesPerSecond = (row, key) => (row[key] * row.size) / 1e6;
const bodySize = (size) => (size >= 1024 ? `${size / 1024} KiB` : `${size} B`);
const machine = `${cpus()[0]?.model.trim() ?? "unknown CPU"}, Node ${process.version}`;

console.log(`\nnpm package against its peers (${machine}); one process, best of ${ROUNDS} alternating rounds of ${DURATION_MS} ms per cell`);
console.log("ratio = ours / peer (verify peers against our verify, node:crypto + JSON.parse against our constructEvent)");
console.log("| body | implementation | ops/s | MB/s | ratio |");
console.log("| ---: | --- | ---: | ---: | ---: |");
for (const row of rows) {
  for (const series of SERIES) {
    const ratio = series.versus ? `${(row[series.versus] / row[series.key]).toFixed(2)}x` : "";
    console.log(
      `| ${bodySize(row.size)} | ${series.label} | ${ops(row[series.key])} | ${megabytesPerSecond(row, series.key).toFixed(0)} | ${ratio} |`,
    );
  }
}

const packageDir = join(process.cwd(), "node_modules/threetone-webhooks");
const files = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)]));
const unpacked = files(packageDir).reduce((total, file) => total + statSync(file).size, 0);
const wasm = readFileSync(join(packageDir, "dist/threetone_webhooks_bg.wasm"));
console.log(`\nwasm: ${(wasm.length / 1000).toFixed(1)} KB raw, ${(gzipSync(wasm, { level: 9 }).length / 1000).toFixed(1)} KB gzip (budget 100 / 40)`);
console.log(`package unpacked: ${(unpacked / 1000).toFixed(1)} KB (budget 250)`);

if (plotPath) {
  writeFileSync(plotPath, plot(rows, machine));
  console.log(`\nplot: ${plotPath}`);
}

/** Throughput (MB/s, log scale) against body size (log scale), one line per series. */
function plot(rows, machine) {
  const width = 760;
  const height = 470;
  const left = 70;
  const right = 300;
  const top = 50;
  const bottom = 60;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const decades = [1, 10, 100, 1000, 10000];
  const x = (size) => left + ((Math.log2(size) - Math.log2(SIZES[0])) / (Math.log2(SIZES.at(-1)) - Math.log2(SIZES[0]))) * plotWidth;
  const y = (mbps) => top + plotHeight - ((Math.log10(mbps) - 0) / (Math.log10(decades.at(-1)) - 0)) * plotHeight;
  const text = (tx, ty, content, attributes = "") => `<text x="${tx.toFixed(1)}" y="${ty.toFixed(1)}" ${attributes}>${content}</text>`;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    text(left, 24, "HMAC-SHA256 webhook verification: throughput against body size", 'font-size="15" font-weight="bold"'),
    text(left, 40, `${machine}; higher is better`, 'fill="#555"'),
  ];
  for (const decade of decades) {
    parts.push(`<line x1="${left}" x2="${left + plotWidth}" y1="${y(decade)}" y2="${y(decade)}" stroke="#e9ecef"/>`);
    parts.push(text(left - 8, y(decade) + 4, decade.toLocaleString("en-US"), 'text-anchor="end"'));
  }
  for (const size of SIZES) {
    parts.push(`<line x1="${x(size)}" x2="${x(size)}" y1="${top}" y2="${top + plotHeight}" stroke="#e9ecef"/>`);
    parts.push(text(x(size), top + plotHeight + 18, bodySize(size), 'text-anchor="middle"'));
  }
  parts.push(`<rect x="${left}" y="${top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#adb5bd"/>`);
  parts.push(text(left + plotWidth / 2, height - 16, "body size", 'text-anchor="middle"'));
  parts.push(text(18, top + plotHeight / 2, "MB/s", `text-anchor="middle" transform="rotate(-90 18 ${top + plotHeight / 2})"`));
  SERIES.forEach((series, index) => {
    const points = rows.map((row) => `${x(row.size).toFixed(1)},${y(megabytesPerSecond(row, series.key)).toFixed(1)}`).join(" ");
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : "";
    const stroke = series.ours ? 3 : 2;
    parts.push(`<polyline points="${points}" fill="none" stroke="${series.color}" stroke-width="${stroke}"${dash}/>`);
    for (const row of rows) {
      parts.push(`<circle cx="${x(row.size).toFixed(1)}" cy="${y(megabytesPerSecond(row, series.key)).toFixed(1)}" r="3" fill="${series.color}"/>`);
    }
    const legendY = top + 10 + index * 22;
    parts.push(`<line x1="${left + plotWidth + 16}" x2="${left + plotWidth + 40}" y1="${legendY}" y2="${legendY}" stroke="${series.color}" stroke-width="${stroke}"${dash}/>`);
    parts.push(text(left + plotWidth + 46, legendY + 4, series.label));
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

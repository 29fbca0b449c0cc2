// Benchmark (not a test): the packed npm package against its peers, in one
// Node process, on the same bodies. Run by `cargo xtask bench` from the
// consumer project where the tarball is installed (target/npm/consumer).
//
//   verify:          ours (as shipped: node:crypto's HMAC from the crossover
//                    up) | ours with SHA-256 in wasm only | ours with
//                    node:crypto's HMAC only | node:crypto createHmac +
//                    timingSafeEqual (the seed's handler) | crypto.subtle.verify
//                    (key imported once) | @octokit/webhooks-methods verify
//   constructEvent:  ours (as shipped) | ours, wasm only | ours, node:crypto's
//                    HMAC only | node:crypto verify + JSON.parse
//
// Prints one table (ops/s, MB/s, and ours / peer), the crossover sweep (wasm
// only against node:crypto's HMAC only, 256 B to 64 KiB) and the package
// sizes, and writes an SVG plot of throughput against body size to the path
// given as the first argument (benches/throughput.svg in the repository).
// With --crossover, only the sweep: cargo xtask bench runs it in Bun and Deno
// too, whose crossovers differ (entries/hmac-node.mjs keeps one per runtime).

import { createHmac, timingSafeEqual } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

import { verify as octokitVerify } from "@octokit/webhooks-methods";
import { Webhook } from "threetone-webhooks";

// The package's registered HMAC (its internal module, the same instance the
// API reads): the bench moves its crossover to measure each path alone.
const packageDir = join(process.cwd(), "node_modules/threetone-webhooks");
const native = await import(pathToFileURL(join(packageDir, "dist/native-hmac.mjs")).href);
const shipped = native.nativeHmac;
if (shipped === null) throw new Error("the package registered no native HMAC in this runtime");
/** Runs `fn` with bodies of `minBodyBytes` and more hashed by the native HMAC (Infinity: wasm only). */
function withCrossover(minBodyBytes, fn) {
  native.setNativeHmac({ ...shipped, minBodyBytes });
  try {
    return fn();
  } finally {
    native.setNativeHmac(shipped);
  }
}

const SECRET = "whsec_benchmark_secret";
const SIZES = [256, 1024, 4 * 1024, 16 * 1024, 64 * 1024];
const DURATION_MS = Number(process.env.BENCH_MS ?? 200);
/** Rounds per cell; each implementation keeps its best, as timeit advises on a shared machine. */
const ROUNDS = 3;
const crossoverOnly = process.argv.includes("--crossover");
const plotPath = crossoverOnly ? undefined : process.argv[2];
const runtime = "Bun" in globalThis ? `Bun ${globalThis.Bun.version}` : "Deno" in globalThis ? `Deno ${globalThis.Deno.version.deno}` : `Node ${process.version}`;

/** A valid `system_error` event of exactly `size` bytes (as the criterion bench). */
function eventOfSize(size) {
  const frame = (message) =>
    `{"event":"system_error","timestamp":"2024-01-15T10:35:00Z","data":{"error_code":"asr_unavailable","severity":"high","component":"speech_to_text","call_id":"call_abc123","error_message":"${message}"}}`;
  return frame("x".repeat(size - frame("").length));
}

/** Operations per second of `fn` (sync or async), after a warm-up; `minBodyBytes` is the native HMAC's crossover meanwhile. */
async function opsPerSecond(fn, { warmUp = true, minBodyBytes = shipped.minBodyBytes } = {}) {
  native.setNativeHmac({ ...shipped, minBodyBytes });
  try {
    return await measure(fn, warmUp);
  } finally {
    native.setNativeHmac(shipped);
  }
}

/** Operations per second of `fn`, after a warm-up unless `warmUp` is false. */
async function measure(fn, warmUp) {
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
// `crossover`: the native HMAC's crossover while it runs (Infinity: wasm only, 0: node:crypto's HMAC only); `against`
// compares ours with a peer (ours / peer), `versus` a peer with ours.
const SERIES = [
  { key: "ours", label: "threetone-webhooks verify (Buffer)", color: "#d9480f", ours: true },
  { key: "oursString", label: "threetone-webhooks verify (string)", color: "#f08c00", dashed: true, ours: true },
  { key: "oursWasm", label: "  verify, SHA-256 in wasm only", color: "#e8590c", dashed: true, ours: true, crossover: Infinity, against: "node", plot: false },
  { key: "oursNative", label: "  verify, node:crypto's HMAC only", color: "#e8590c", ours: true, crossover: 0, against: "node", plot: false },
  { key: "node", label: "node:crypto createHmac + timingSafeEqual", color: "#1c7ed6", versus: "ours" },
  { key: "subtle", label: "crypto.subtle.verify", color: "#7048e8", versus: "ours" },
  { key: "octokit", label: "@octokit/webhooks-methods verify", color: "#2b8a3e", versus: "ours" },
  { key: "construct", label: "threetone-webhooks constructEvent", color: "#c2255c", ours: true },
  { key: "constructWasm", label: "  constructEvent, SHA-256 in wasm only", color: "#c2255c", ours: true, crossover: Infinity, against: "nodeParse", plot: false },
  { key: "constructNative", label: "  constructEvent, node:crypto's HMAC only", color: "#c2255c", ours: true, crossover: 0, against: "nodeParse", plot: false },
  { key: "nodeParse", label: "node:crypto verify + JSON.parse", color: "#495057", dashed: true, versus: "construct" },
];
const crossoverOf = Object.fromEntries(SERIES.map((series) => [series.key, series.crossover ?? shipped.minBodyBytes]));

const webhook = new Webhook(SECRET);
const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
const rows = [];
for (const size of crossoverOnly ? [] : SIZES) {
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
    oursWasm: () => webhook.verify(bytes, header),
    oursNative: () => webhook.verify(bytes, header),
    node: nodeVerify,
    subtle: () => crypto.subtle.verify("HMAC", key, digest, bytes),
    octokit: () => octokitVerify(SECRET, text, header),
    construct: () => webhook.constructEvent(bytes, header),
    constructWasm: () => webhook.constructEvent(bytes, header),
    constructNative: () => webhook.constructEvent(bytes, header),
    nodeParse: () => nodeVerify() && JSON.parse(bytes.toString("utf8")),
  };
  // Rounds alternate between the implementations, so that a slow moment of
  // the machine does not land on one of them only.
  const row = { size };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, fn] of Object.entries(cases)) {
      row[name] = Math.max(row[name] ?? 0, await opsPerSecond(fn, { warmUp: round === 0, minBodyBytes: crossoverOf[name] }));
    }
  }
  rows.push(row);
}

const ops = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(1)}k`);
const megabytesPerSecond = (row, key) => (row[key] * row.size) / 1e6;
const bodySize = (size) => (size >= 1024 ? `${size / 1024} KiB` : `${size} B`);
const machine = `${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${runtime}`;

if (!crossoverOnly) {
  console.log(`\nnpm package against its peers (${machine}); one process, best of ${ROUNDS} alternating rounds of ${DURATION_MS} ms per cell`);
  console.log(`ours as shipped hashes bodies of ${shipped.minBodyBytes} B and more with ${shipped.name}; the indented rows force one path`);
  console.log("ratio = ours / peer (verify peers against our verify, node:crypto + JSON.parse against our constructEvent)");
  console.log("| body | implementation | ops/s | MB/s | ratio |");
  console.log("| ---: | --- | ---: | ---: | ---: |");
  for (const row of rows) {
    for (const series of SERIES) {
      const ratio = series.versus
        ? `${(row[series.versus] / row[series.key]).toFixed(2)}x`
        : series.against
          ? `${(row[series.key] / row[series.against]).toFixed(2)}x`
          : "";
      console.log(
        `| ${bodySize(row.size)} | ${series.label.trim()}${series.label.startsWith(" ") ? " (forced)" : ""} | ${ops(row[series.key])} | ${megabytesPerSecond(row, series.key).toFixed(0)} | ${ratio} |`,
      );
    }
  }
}

// The crossover: where the native HMAC (and a call into the core to compare
// digests) beats hashing in wasm, for verify and for constructEvent.
const SWEEP = [256, 512, 768, 1024, 1280, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 32768, 65536];
const sweep = [];
for (const size of SWEEP) {
  const bytes = Buffer.from(eventOfSize(size));
  const header = webhook.sign(bytes);
  const cells = {
    verifyWasm: [Infinity, () => webhook.verify(bytes, header)],
    verifyNative: [0, () => webhook.verify(bytes, header)],
    constructWasm: [Infinity, () => webhook.constructEvent(bytes, header)],
    constructNative: [0, () => webhook.constructEvent(bytes, header)],
  };
  for (const [minBodyBytes] of Object.values(cells)) {
    if (!withCrossover(minBodyBytes, () => webhook.verify(bytes, header))) throw new Error(`a path disagrees at ${size} B`);
  }
  const row = { size };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, [minBodyBytes, fn]] of Object.entries(cells)) {
      row[name] = Math.max(row[name] ?? 0, await opsPerSecond(fn, { warmUp: round === 0, minBodyBytes }));
    }
  }
  sweep.push(row);
}
/** The smallest swept size from which the native path is at least as fast at every larger size. */
const crossover = (wasm, native) => {
  let from = Infinity;
  for (const row of [...sweep].reverse()) {
    if (row[native] < row[wasm]) break;
    from = row.size;
  }
  return from;
};
console.log(`\ncrossover sweep (${machine}), ${shipped.name} against SHA-256 in wasm, best of ${ROUNDS} rounds; native / wasm`);
console.log("| body | verify, wasm | verify, native | native / wasm | constructEvent, wasm | constructEvent, native | native / wasm |");
console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const row of sweep) {
  const ratio = (a, b) => `${(row[a] / row[b]).toFixed(2)}x`;
  console.log(
    `| ${bodySize(row.size)} | ${ops(row.verifyWasm)} | ${ops(row.verifyNative)} | ${ratio("verifyNative", "verifyWasm")} | ${ops(row.constructWasm)} | ${ops(row.constructNative)} | ${ratio("constructNative", "constructWasm")} |`,
  );
}
console.log(
  `crossover: verify ${crossover("verifyWasm", "verifyNative")} B, constructEvent ${crossover("constructWasm", "constructNative")} B (shipped: ${shipped.minBodyBytes} B)`,
);
if (crossoverOnly) process.exit(0);

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
  SERIES.filter((series) => series.plot !== false).forEach((series, index) => {
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

// The differential test (differential.cjs) as an ES module (Node 20 and 22,
// Bun, Deno): the package's own crossover moved for each call, so that one
// instance answers through node:crypto's HMAC and through wasm alone; the
// native path checked to be registered and taken from the crossover up.
// Usage: <runtime> differential.mjs <label>
import * as lib from "threetone-webhooks";
import differential from "./differential.cjs";
import runSuite from "./suite.cjs";
import vectors from "./vectors-fs.cjs";

const label = process.argv[2] ?? "esm";
const dist = new URL("./node_modules/threetone-webhooks/dist/", import.meta.url);
// The package's internal modules, the instances its entry loaded.
const native = await import(new URL("native-hmac.mjs", dist).href);
const { CROSSOVER_BYTES } = await import(new URL("entries/hmac-node.mjs", dist).href);
const shipped = native.nativeHmac;
const checks = { passed: 0, failed: 0, failures: [] };
const check = (name, ok, detail = "") => {
  if (ok) checks.passed += 1;
  else {
    checks.failed += 1;
    checks.failures.push(`${name}${detail ? `: ${detail}` : ""}`);
  }
};

if (shipped === null) {
  check("the entry registered node:crypto's HMAC", false);
} else {
  const { fast, wasm, digests } = differential.throughCrossover(lib, native);

  // The crossover as shipped: below it the core hashes, from it node:crypto, one digest per secret.
  const min = shipped.minBodyBytes;
  const runtime = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node";
  check(`the crossover is ${runtime}'s`, min === CROSSOVER_BYTES[runtime], `${min}`);
  const webhook = fast(() => new lib.Webhook(["one", "two"]));
  for (const [size, expected] of [[min - 1, 0], [min, 2], [min + 1, 2]]) {
    if (size < 0) continue;
    const body = new Uint8Array(size);
    const signature = wasm(() => lib.sign(body, "two"));
    const before = digests();
    const valid = fast(() => webhook.verify(body, signature));
    check(`a ${size}-byte body: ${expected} native digests`, valid && digests() - before === expected, `${digests() - before}`);
  }

  const results = await differential(fast, wasm, vectors, { crossovers: Object.values(CROSSOVER_BYTES) });
  check("the native path was taken", digests() > 1000, String(digests()));
  checks.passed += results.passed;
  checks.failed += results.failed;
  checks.failures.push(...results.failures);
  check("enough differential cases", results.passed > 5000, String(results.passed));
}

console.log(runSuite.summary(label, checks));
process.exitCode = checks.failed === 0 ? 0 : 1;

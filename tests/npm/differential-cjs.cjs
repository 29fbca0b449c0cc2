// The differential test (differential.cjs) through require() (Node 20 and 22,
// Bun): in Node, the CommonJS bundle, which hashes with node:crypto from its
// crossover up, against a second instance of the package, its ES module
// inline entry, with no native HMAC registered (wasm only); node:crypto's
// createHmac is counted, to see the bundle take the native path. Bun's
// require() loads the ES module entry (its "bun" condition): one instance,
// whose crossover is moved as in differential.mjs.
// Usage: <runtime> differential-cjs.cjs <label>
"use strict";
const crypto = require("node:crypto");
const { join } = require("node:path");
const { pathToFileURL } = require("node:url");

const lib = require("threetone-webhooks");
const differential = require("./differential.cjs");
const runSuite = require("./suite.cjs");
const vectors = require("./vectors-fs.cjs");

let hmacs = 0;
const createHmac = crypto.createHmac;
crypto.createHmac = function countedCreateHmac(...args) {
  hmacs += 1;
  return createHmac.apply(this, args);
};

async function main(label) {
  const dist = pathToFileURL(join(__dirname, "node_modules/threetone-webhooks/dist/")).href;
  // The ES module instance (importing its crossovers registers its HMAC).
  const { CROSSOVER_BYTES } = await import(`${dist}entries/hmac-node.mjs`);
  const native = await import(`${dist}native-hmac.mjs`);
  const reference = await import(`${dist}entries/inline.mjs`);
  const crossovers = Object.values(CROSSOVER_BYTES);
  let results;
  let taken;
  if (reference.Webhook === lib.Webhook) {
    const paths = differential.throughCrossover(lib, native);
    results = await differential(paths.fast, paths.wasm, vectors, { crossovers });
    taken = paths.digests();
  } else {
    // Unregistered: the ES module instance hashes in wasm only.
    native.setNativeHmac(null);
    const before = hmacs;
    results = await differential((call) => call(lib), (call) => call(reference), vectors, { crossovers });
    taken = hmacs - before;
  }
  const check = (name, ok, detail) => {
    if (ok) results.passed += 1;
    else {
      results.failed += 1;
      results.failures.push(`${name}: ${detail}`);
    }
  };
  check("the native path was taken", taken > 1000, String(taken));
  check("enough differential cases", results.passed > 5000, String(results.passed));
  console.log(runSuite.summary(label, results));
  process.exitCode = results.failed === 0 ? 0 : 1;
}

main(process.argv[2] ?? "cjs");

// The native HMAC path against the wasm path (differential.cjs) in every
// runtime that takes it: Node 20 and 22 (ES module and CommonJS), Bun (both),
// Deno. Browsers and workerd register no native HMAC: the shared suite
// covers them (runtimes.test.mjs).

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { test } from "node:test";

const here = dirname(fileURLToPath(import.meta.url));
const bin = (name) => join(here, "node_modules/.bin", name);
const run = promisify(execFile);

async function differential(label, command, args) {
  const { stdout } = await run(command, args, { cwd: here, env: { ...process.env, NO_COLOR: "1" } }).catch((error) => {
    throw new Error(`${label} failed:\n${error.stdout}\n${error.stderr}`);
  });
  const line = stdout.trim().split("\n").at(-1);
  assert.match(line, new RegExp(`^${label}: \\d+ passed, 0 failed$`), stdout);
}

test("differential, Node 20, ES module", () => differential("node20-esm", process.execPath, ["differential.mjs", "node20-esm"]));
test("differential, Node 20, CommonJS", () => differential("node20-cjs", process.execPath, ["differential-cjs.cjs", "node20-cjs"]));
test("differential, Node 22, ES module", () => differential("node22-esm", bin("node"), ["differential.mjs", "node22-esm"]));
test("differential, Node 22, CommonJS", () => differential("node22-cjs", bin("node"), ["differential-cjs.cjs", "node22-cjs"]));
test("differential, Bun, ES module", () => differential("bun-esm", bin("bun"), ["differential.mjs", "bun-esm"]));
test("differential, Bun, CommonJS", () => differential("bun-cjs", bin("bun"), ["differential-cjs.cjs", "bun-cjs"]));
test("differential, Deno (npm package)", () => differential("deno", bin("deno"), ["run", "--allow-read", "--allow-env", "differential.mjs", "deno"]));

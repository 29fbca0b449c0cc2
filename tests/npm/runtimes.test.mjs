// The shared suite in every runtime the package claims, against the packed
// tarball installed here (cargo xtask copies this directory into
// target/npm/consumer and installs the tarball, as a user would).

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { before, test } from "node:test";

import * as lib from "threetone-webhooks";
import runSuite from "./suite.cjs";
import vectors from "./vectors-fs.cjs";

const here = dirname(fileURLToPath(import.meta.url));
const bin = (name) => join(here, "node_modules/.bin", name);
const run = promisify(execFile);
// Wrangler and Miniflare are pinned once, in worker/package.json.
const workerTools = process.env.THREETONE_WORKER_TOOLS;

let expected;
before(async () => {
  const results = await runSuite(lib, vectors, runSuite.peerSign);
  assert.deepEqual(results.failures, []);
  expected = results.passed;
  assert.ok(expected > 250, `only ${expected} checks`);
});

/** Asserts a runner's closing line: the full suite passed. */
function assertSummary(output, runtime) {
  const line = output.trim().split("\n").at(-1);
  assert.equal(line, `${runtime}: ${expected} passed, 0 failed`, output);
}

async function runtime(label, command, args) {
  const { stdout } = await run(command, args, { cwd: here, env: { ...process.env, NO_COLOR: "1" } }).catch((error) => {
    throw new Error(`${label} failed:\n${error.stdout}\n${error.stderr}`);
  });
  assertSummary(stdout, label);
}

test("Node 20, ES module", () => runtime("node20-esm", process.execPath, ["run.mjs", "node20-esm"]));
test("Node 20, CommonJS", () => runtime("node20-cjs", process.execPath, ["run.cjs", "node20-cjs"]));
test("Node 22, ES module", () => runtime("node22-esm", bin("node"), ["run.mjs", "node22-esm"]));
test("Node 22, CommonJS", () => runtime("node22-cjs", bin("node"), ["run.cjs", "node22-cjs"]));
test("Deno (npm package)", () => runtime("deno", bin("deno"), ["run", "--allow-read", "--allow-env", "run.mjs", "deno"]));
test("Bun, ES module", () => runtime("bun-esm", bin("bun"), ["run.mjs", "bun-esm"]));
test("Bun, CommonJS", () => runtime("bun-cjs", bin("bun"), ["run.cjs", "bun-cjs"]));

/** Serves `root` on 127.0.0.1 for the duration of `fn(url)`. */
async function serve(root, fn) {
  const types = { ".mjs": "text/javascript", ".js": "text/javascript", ".html": "text/html", ".wasm": "application/wasm" };
  const server = http.createServer((request, response) => {
    try {
      const path = join(root, decodeURIComponent(new URL(request.url, "http://x").pathname));
      const body = readFileSync(path);
      response.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    return await fn(`http://127.0.0.1:${server.address().port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test("Deno, plain URL import of the ES module entry", async () => {
  await serve(join(here, "node_modules/threetone-webhooks"), async (url) => {
    const script = `import * as lib from "${url}/dist/entries/inline.mjs";
      const results = await lib.parseEvent(${JSON.stringify(JSON.stringify(JSON.parse(vectors.seeds.call_started)))});
      const signature = lib.sign("Hello, World!", "It's a Secret to Everybody");
      console.log(results.event === "call_started" && signature.endsWith("8b043e17") ? "deno-url: 1 passed, 0 failed" : "deno-url: 0 passed, 1 failed");`;
    const dir = mkdtempSync(join(tmpdir(), "deno-url-"));
    try {
      const { stdout } = await run(bin("deno"), ["eval", `--allow-import=${new URL(url).host}`, script], { cwd: dir, env: { ...process.env, NO_COLOR: "1" } });
      assert.equal(stdout.trim(), "deno-url: 1 passed, 0 failed");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("workerd, bundled by wrangler as a user's Worker", { timeout: 120_000 }, async () => {
  assert.ok(workerTools, "THREETONE_WORKER_TOOLS (worker/ with its npm tools) is not set");
  const outdir = mkdtempSync(join(tmpdir(), "consumer-worker-"));
  try {
    await run(process.execPath, [join(workerTools, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outdir], {
      cwd: here,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    });
    const { Miniflare } = await import(createRequire(join(workerTools, "package.json")).resolve("miniflare"));
    const mf = new Miniflare({
      modules: true,
      scriptPath: join(outdir, "worker-entry.js"),
      modulesRoot: outdir,
      modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
      compatibilityDate: "2026-04-26",
    });
    try {
      const results = await (await mf.dispatchFetch("http://consumer.test/")).json();
      assertSummary(results.summary, "workerd");
    } finally {
      await mf.dispose();
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});

test("Chromium, bundled for the browser", { timeout: 120_000 }, async () => {
  const page = mkdtempSync(join(tmpdir(), "consumer-page-"));
  try {
    // esbuild as a user's bundler would run it (browser platform, "browser" condition).
    const esbuild = process.env.THREETONE_ESBUILD;
    assert.ok(esbuild, "THREETONE_ESBUILD is not set");
    await run(esbuild, ["browser-entry.mjs", "--bundle", "--platform=browser", "--format=esm", `--outfile=${join(page, "page.mjs")}`], { cwd: here });
    const html = '<!doctype html><script type="module" src="/page.mjs"></script>';
    await import("node:fs").then((fs) => fs.writeFileSync(join(page, "index.html"), html));
    const { chromium } = await import("playwright-core");
    await serve(page, async (url) => {
      const browser = await chromium.launch({
        executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
        args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      });
      try {
        const tab = await browser.newPage();
        const errors = [];
        tab.on("pageerror", (error) => errors.push(String(error)));
        await tab.goto(`${url}/index.html`);
        await tab.waitForFunction(() => window.suiteResult !== undefined, null, { timeout: 60_000 });
        const results = await tab.evaluate(() => window.suiteResult);
        assert.deepEqual(errors, []);
        assertSummary(results.summary, "chromium");
      } finally {
        await browser.close();
      }
    });
  } finally {
    rmSync(page, { recursive: true, force: true });
  }
});

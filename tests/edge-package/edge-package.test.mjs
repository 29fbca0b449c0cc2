// The npm package threetone-edge as a user gets it, with Node alone: in a temporary directory,
// with cargo, rustc and rustup off PATH, the packed tarball (`cargo xtask edge` builds it;
// THREETONE_EDGE_TARBALL names it) is installed, `npx threetone-edge init demo` writes a
// project, the project installs the package and its pinned wrangler from the registry,
// `npx wrangler deploy --dry-run` uploads exactly what the xtask build of worker/ uploads, and
// `wrangler dev` from the project delivers a signed event to a local origin. Then
// `npx threetone-edge upgrade` on an older layout. Everything started is stopped.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const WORKER = join(ROOT, "worker");
const { version } = JSON.parse(readFileSync(join(ROOT, "edge-package/package.json"), "utf8"));
const TARBALL = process.env.THREETONE_EDGE_TARBALL ?? join(ROOT, `target/npm/threetone-edge-${version}.tgz`);
const PINNED_WRANGLER = JSON.parse(readFileSync(join(WORKER, "package.json"), "utf8")).devDependencies.wrangler;
const RUST_TOOLS = ["cargo", "rustc", "rustup"];

const tmp = mkdtempSync(join(tmpdir(), "threetone-edge-package-"));
const demo = join(tmp, "demo");

/**
 * The environment of a machine with Node and no Rust: PATH without any directory that holds
 * cargo, rustc or rustup (node, npm and npx linked into one of its own if they shared one), and
 * no CARGO_* / RUSTUP_* / RUSTC* variables (cargo sets some for what it runs).
 */
function nodeOnlyEnvironment() {
  const env = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(CARGO|RUSTUP|RUSTC|RUST_)/.test(name)) env[name] = value;
  }
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  const kept = dirs.filter((dir) => !RUST_TOOLS.some((tool) => existsSync(join(dir, tool))));
  const bin = join(tmp, "node-bin");
  mkdirSync(bin);
  for (const tool of ["node", "npm", "npx"]) {
    const found = dirs.map((dir) => join(dir, tool)).find((path) => existsSync(path));
    if (found && !kept.includes(dirname(found))) symlinkSync(found, join(bin, tool));
  }
  return {
    ...env,
    PATH: [bin, ...kept].join(delimiter),
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_LOG_PATH: join(tmp, "wrangler-logs"),
  };
}
const ENV = nodeOnlyEnvironment();

/** Runs a command to its end (bounded), returning its status and output. */
function runIn(cwd, command, args, { timeout = 240_000 } = {}) {
  const result = spawnSync(command, args, { cwd, env: ENV, encoding: "utf8", timeout });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  if (result.error) throw new Error(`${command} ${args.join(" ")}: ${result.error.message}\n${output}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, output };
}

function ok(cwd, command, args, options) {
  const result = runIn(cwd, command, args, options);
  assert.equal(result.status, 0, `${command} ${args.join(" ")} in ${cwd} failed:\n${result.output}`);
  return result;
}

const plain = (text) => text.replace(/\x1b\[[0-9;]*m/g, "");

/** `wrangler deploy --dry-run` in `cwd`: its upload sizes and the bindings it lists. */
function dryRun(cwd, wrangler) {
  const outdir = mkdtempSync(join(tmp, "dry-run-"));
  const { output } = ok(cwd, wrangler[0], [...wrangler.slice(1), "deploy", "--dry-run", "--outdir", outdir]);
  const text = plain(output);
  const sizes = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(text);
  assert.ok(sizes, `no upload size in:\n${text}`);
  const bindings = text.split("\n").filter((line) => line.startsWith("env."));
  return { total: Number(sizes[1]), gzip: Number(sizes[2]), bindings, text };
}

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

before(() => {
  assert.ok(existsSync(TARBALL), `${TARBALL} is missing: run \`cargo xtask edge\``);
});

after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe("threetone-edge with Node alone", { timeout: 600_000 }, () => {
  it("has no Rust toolchain on its PATH", () => {
    for (const tool of RUST_TOOLS) {
      const result = spawnSync(tool, ["--version"], { env: ENV });
      assert.equal(result.error?.code, "ENOENT", `${tool} is still reachable`);
    }
    assert.equal(ok(tmp, "node", ["--version"]).stdout.trim(), process.version);
  });

  it("installs from the tarball, and `npx threetone-edge init demo` writes a project", () => {
    ok(tmp, "npm", ["install", "--no-save", TARBALL]);
    const help = ok(tmp, "npx", ["--no-install", "threetone-edge", "--help"]);
    assert.match(help.stdout, /npx threetone-edge init <dir>/);
    assert.match(help.stdout, new RegExp(`threetone-edge ${version.replaceAll(".", "\\.")}`));
    assert.equal(runIn(tmp, "npx", ["--no-install", "threetone-edge"]).status, 2);
    assert.equal(runIn(tmp, "npx", ["--no-install", "threetone-edge", "deploy"]).status, 2);

    const init = ok(tmp, "npx", ["--no-install", "threetone-edge", "init", "demo"]);
    // The three next commands (after the install), in order.
    assert.match(
      init.stdout,
      /cd demo\n\s+npm install[^\n]*\n\s+npx wrangler secret put WEBHOOK_SECRET[^\n]*\n\s+npx wrangler dev[^\n]*\n\s+npx wrangler deploy/,
    );
    for (const file of ["wrangler.toml", ".dev.vars.example", "README.md", "package.json", ".gitignore"]) {
      assert.ok(existsSync(join(demo, file)), file);
    }
    const toml = readFileSync(join(demo, "wrangler.toml"), "utf8");
    assert.match(toml, /^main = "node_modules\/threetone-edge\/worker\/entry\.mjs"$/m);
    assert.match(toml, new RegExp(`^# threetone-edge ${version.replaceAll(".", "\\.")}:`));
    assert.match(toml, /^# routes = \[/m);
    assert.match(toml, /^# \[\[vars\.ROUTES\]\]$/m);
    // The Worker's bindings and migrations, as its wrangler.toml has them.
    const source = readFileSync(join(WORKER, "wrangler.toml"), "utf8");
    const blocks = (text, header) => text.split(/\n(?=\[)/).filter((block) => block.startsWith(header)).map((block) => block.replace(/\n(#[^\n]*\n?|\n)*$/, ""));
    for (const header of ["[[durable_objects.bindings]]", "[[migrations]]", "[triggers]"]) {
      assert.ok(blocks(source, header).length > 0, header);
      assert.deepEqual(blocks(toml, header), blocks(source, header), header);
    }
    assert.equal(readFileSync(join(demo, ".dev.vars.example"), "utf8"), readFileSync(join(WORKER, ".dev.vars.example"), "utf8"));
    const manifest = JSON.parse(readFileSync(join(demo, "package.json"), "utf8"));
    assert.equal(manifest.name, "demo");
    assert.equal(manifest.dependencies["threetone-edge"], `^${version}`);
    assert.equal(manifest.devDependencies.wrangler, PINNED_WRANGLER);
    assert.match(readFileSync(join(demo, "README.md"), "utf8"), /npx wrangler secret put WEBHOOK_SECRET[\s\S]*npx wrangler dev[\s\S]*npx wrangler deploy/);

    // A second init overwrites nothing and says why.
    writeFileSync(join(demo, "README.md"), "mine\n");
    const again = runIn(tmp, "npx", ["--no-install", "threetone-edge", "init", "demo"]);
    assert.equal(again.status, 1, again.output);
    assert.match(again.stderr, /not overwriting demo\/wrangler\.toml, demo\/\.dev\.vars\.example, demo\/README\.md/);
    assert.equal(readFileSync(join(demo, "README.md"), "utf8"), "mine\n");
  });

  it("deploys (dry run) the same upload as the xtask build of worker/", () => {
    // The project as a user installs it: the package (here its tarball) and the pinned wrangler.
    ok(demo, "npm", ["install", "--prefer-offline", TARBALL]);
    const installed = join(demo, "node_modules/threetone-edge/worker");
    for (const file of ["entry.mjs", "build/index.js", "build/index_bg.wasm"]) {
      assert.ok(
        readFileSync(join(installed, file)).equals(readFileSync(join(WORKER, file))),
        `the packaged ${file} is not worker/'s: worker/ was rebuilt after the package (run \`cargo xtask edge\`)`,
      );
    }
    const wranglerVersion = ok(demo, "npx", ["--no-install", "wrangler", "--version"]).stdout;
    assert.match(wranglerVersion, new RegExp(PINNED_WRANGLER.replaceAll(".", "\\.")));

    const packaged = dryRun(demo, ["npx", "--no-install", "wrangler"]);
    const built = dryRun(WORKER, ["node", join(WORKER, "node_modules/wrangler/bin/wrangler.js")]);
    assert.ok(packaged.gzip > 0);
    assert.equal(packaged.gzip, built.gzip, `gzip KiB: packaged ${packaged.gzip}, worker/ ${built.gzip}`);
    assert.equal(packaged.total, built.total);
    assert.deepEqual(packaged.bindings, built.bindings);
    assert.ok(packaged.bindings.some((line) => /Durable Object/.test(line)), packaged.text);
    console.log(`# upload: ${packaged.total} KiB, ${packaged.gzip} KiB gzip (packaged and worker/ alike)`);
  });

  it("serves the packaged Worker under `wrangler dev` and delivers a signed event to a local origin", async () => {
    const secret = `whsec_${randomBytes(16).toString("hex")}`;
    const received = [];
    const origin = http.createServer((request, response) => {
      const chunks = [];
      request.on("data", (chunk) => chunks.push(chunk));
      request.on("end", () => {
        received.push({ url: request.url, headers: request.headers, body: Buffer.concat(chunks) });
        response.writeHead(200, { "content-type": "text/plain" });
        response.end("received");
      });
    });
    await new Promise((resolve) => origin.listen(0, "127.0.0.1", resolve));
    const port = await freePort();
    const state = mkdtempSync(join(tmp, "state-"));
    const vars = {
      WEBHOOK_SECRET: secret,
      ORIGIN_URL: `http://127.0.0.1:${origin.address().port}/webhooks/threetone`,
      ALLOW_INSECURE_ORIGIN: "true",
      ADMIN_TOKEN: randomBytes(24).toString("hex"),
    };
    const wrangler = spawn(
      "node",
      [
        join(demo, "node_modules/wrangler/bin/wrangler.js"),
        "dev",
        "--ip", "127.0.0.1",
        "--port", String(port),
        "--inspector-port", "0",
        "--persist-to", state,
        "--show-interactive-dev-session=false",
        ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
      ],
      { cwd: demo, env: ENV, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    wrangler.stdout.on("data", (data) => (output += data));
    wrangler.stderr.on("data", (data) => (output += data));
    const exited = new Promise((resolve) => wrangler.on("exit", (code, signal) => resolve({ code, signal })));
    let running = true;
    exited.then(() => (running = false));
    const edge = `http://127.0.0.1:${port}`;
    try {
      const deadline = Date.now() + 120_000;
      let health;
      while (!health) {
        assert.ok(running, `wrangler dev exited:\n${output}`);
        assert.ok(Date.now() < deadline, `wrangler dev was not ready within 120 s:\n${output}`);
        try {
          const response = await fetch(`${edge}/health`);
          if (response.ok) health = await response.json();
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
      assert.equal(health.status, "ok", JSON.stringify(health));
      assert.equal(health.version, version, "/health reports the package's version");

      const sample = JSON.parse(readFileSync(join(ROOT, "tests/vectors/payloads/call_started.json"), "utf8"));
      sample.timestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      sample.data.call_id = `call_${randomBytes(4).toString("hex")}`;
      const body = JSON.stringify(sample);
      const signature = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
      const response = await fetch(`${edge}/webhooks/threetone`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-threetone-signature": signature },
        body,
      });
      const answer = await response.text();
      assert.equal(response.status, 200, answer);
      assert.equal(received.length, 1, answer);
      assert.equal(received[0].url, "/webhooks/threetone");
      assert.equal(received[0].body.toString(), body, "the exact bytes reach the origin");
      assert.equal(received[0].headers["x-threetone-signature"], signature);

      // A forged one goes nowhere.
      const forged = await fetch(`${edge}/webhooks/threetone`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-threetone-signature": `sha256=${"0".repeat(64)}` },
        body,
      });
      assert.equal(forged.status, 401, await forged.text());
      assert.equal(received.length, 1);
    } finally {
      wrangler.kill("SIGINT");
      const timer = setTimeout(() => wrangler.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      origin.closeAllConnections();
      await new Promise((resolve) => origin.close(resolve));
    }
    assert.doesNotMatch(output, new RegExp(secret), "wrangler printed the secret");
    // Everything it started is gone: the Worker's port is free again.
    const listening = await new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => (socket.destroy(), resolve(true)));
      socket.on("error", () => resolve(false));
    });
    assert.equal(listening, false);
  });

  it("`npx threetone-edge upgrade` adds to an older layout the bindings and migrations it lacks", () => {
    // No earlier release has this package: an older layout is this one without its last
    // Durable Object binding and its last migration (what a release that adds a class changes).
    const older = join(tmp, "older");
    mkdirSync(older);
    symlinkSync(join(demo, "node_modules"), join(older, "node_modules"));
    const current = readFileSync(join(demo, "wrangler.toml"), "utf8");
    const last = (header) => {
      const blocks = current.split(/\n(?=\[)/).filter((block) => block.startsWith(header));
      return blocks.at(-1).replace(/\n(#[^\n]*\n?|\n)*$/, "");
    };
    const binding = last("[[durable_objects.bindings]]");
    const migration = last("[[migrations]]");
    const reduced = current.replace(`${binding}\n`, "").replace(`${migration}\n`, "");
    assert.notEqual(reduced, current);
    writeFileSync(join(older, "wrangler.toml"), reduced);

    const upgrade = ok(older, "npx", ["--no-install", "threetone-edge", "upgrade"]);
    const bindingName = /name = "([^"]+)"/.exec(binding)[1];
    const tag = /tag = "([^"]+)"/.exec(migration)[1];
    assert.match(upgrade.stdout, new RegExp(`added binding ${bindingName}, migration ${tag}`));
    const upgraded = readFileSync(join(older, "wrangler.toml"), "utf8");
    assert.ok(upgraded.startsWith(reduced.trimEnd()), "nothing of the older file changed");
    assert.ok(upgraded.includes(binding) && upgraded.includes(migration));
    assert.match(ok(older, "npx", ["--no-install", "threetone-edge", "upgrade"]).stdout, /already has every binding and migration/);
    const dry = dryRun(older, ["npx", "--no-install", "wrangler"]);
    assert.deepEqual(dry.bindings, dryRun(demo, ["npx", "--no-install", "wrangler"]).bindings);

    // A deployed migration edited: refused, the file untouched.
    const edited = upgraded.replace(/tag = "v1"/, 'tag = "v1-edited"');
    writeFileSync(join(older, "wrangler.toml"), edited);
    const refused = runIn(older, "npx", ["--no-install", "threetone-edge", "upgrade"]);
    assert.equal(refused.status, 1, refused.output);
    assert.match(refused.stderr, /must be the first of these, in order/);
    assert.equal(readFileSync(join(older, "wrangler.toml"), "utf8"), edited);
  });
});

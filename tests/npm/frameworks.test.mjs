// The Fastify 5 and Koa 3 adapters against real servers on 127.0.0.1, as ES
// modules (in this process) and through require() (framework-server.cjs, a
// child process): the shared cases (valid, forged, malformed, too large),
// then what each framework adds (Fastify's bodyLimit, its JSON parser left to
// the rest of the app, the preHandler; Koa before and after koa-bodyparser).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import http from "node:http";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

import Fastify from "fastify";
import Koa from "koa";
import bodyParser from "koa-bodyparser";
import { generateTestEvent } from "threetone-webhooks";
import * as fastifyAdapter from "threetone-webhooks/fastify";
import * as koaAdapter from "threetone-webhooks/koa";

import apps from "./framework-apps.cjs";
import { LIMIT, assertBodyLimits, assertDefaultLimit, assertSharedCases, post, withServer } from "./http-cases.mjs";

const { SECRET, fastifyApp, koaApp } = apps;
const here = dirname(fileURLToPath(import.meta.url));

/** Runs `fn({ url, received })` against `framework`'s app loaded as `format`; `received()` resolves to the call ids it took. */
async function withApp(framework, format, fn) {
  if (format === "cjs") return withChild(framework, fn);
  const received = [];
  const context = (url) => ({ url, received: async () => received });
  if (framework === "koa") {
    const app = koaApp({ Koa, bodyParser, adapter: koaAdapter, received });
    return withServer(http.createServer(app.callback()), (url) => fn(context(url)));
  }
  const app = await fastifyApp({ Fastify, adapter: fastifyAdapter, received });
  await app.listen({ port: 0, host: "127.0.0.1" });
  try {
    return await fn(context(`http://127.0.0.1:${app.server.address().port}`));
  } finally {
    await app.close();
  }
}

/** framework-server.cjs in a child process, for the length of `fn`. */
async function withChild(framework, fn) {
  const child = spawn(process.execPath, ["framework-server.cjs", framework], { cwd: here, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(`exited (${code ?? signal})`)));
  try {
    let stderr = "";
    child.stderr.on("data", (data) => (stderr += data));
    const started = new Promise((resolve) => {
      let output = "";
      child.stdout.on("data", (data) => {
        output += data;
        if (output.includes("\n")) resolve(JSON.parse(output.split("\n")[0]).port);
      });
    });
    const port = await Promise.race([started, exited]);
    assert.equal(typeof port, "number", `the ${framework} server did not start: ${port}\n${stderr}`);
    const url = `http://127.0.0.1:${port}`;
    return await fn({ url, received: async () => (await fetch(`${url}/received`)).json() });
  } finally {
    child.kill();
    await exited;
  }
}

/** A valid event of more than LIMIT bytes. */
const bigEvent = () => generateTestEvent("call_ended", { secret: SECRET, overrides: { data: { conversation_summary: "x".repeat(LIMIT) } } });
const valid = (id) => generateTestEvent("call_ended", { secret: SECRET, id });
const forged = () => generateTestEvent("call_ended", { secret: "not the secret" });

for (const [format, label] of [["esm", "ES module"], ["cjs", "CommonJS"]]) {
  for (const framework of ["fastify", "koa"]) {
    const name = framework === "koa" ? "Koa" : "Fastify";
    test(`${name} (${label}): valid, forged, malformed and too large`, () =>
      withApp(framework, format, async ({ url, received }) => {
        await assertSharedCases(`${url}/webhooks/threetone`, SECRET, received);
        await assertBodyLimits(`${url}/limited`, SECRET);
        await assertDefaultLimit(`${url}/default`);
      }));
  }

  test(`Fastify (${label}): the app keeps its JSON parser; onEvent may answer; the preHandler in a scope with rawBodyParser`, () =>
    withApp("fastify", format, async ({ url, received }) => {
      assert.deepEqual(await post(`${url}/api/echo`, { body: '{"a":1}', headers: { "content-type": "application/json" } }), { status: 200, json: { a: 1 } });
      assert.deepEqual(await post(`${url}/answers`, valid("answers")), { status: 202, json: { mine: "call_ended", raw: true } });
      // The preHandler, with the second of two secrets (rotation).
      assert.deepEqual(await post(`${url}/prehandler`, valid("prehandler")), { status: 200, json: { handled: "call_ended" } });
      const rejected = await post(`${url}/prehandler`, forged());
      assert.deepEqual([rejected.status, rejected.json.error], [401, "signature_mismatch"]);
      // Over the route's bodyLimit: the parser's error, answered by the app's error handler (Fastify's default here).
      const large = await post(`${url}/prehandler`, bigEvent());
      assert.deepEqual([large.status, large.json.code, large.json.statusCode], [413, "payload_too_large", 413]);
      assert.match(large.json.message, new RegExp(`more than the allowed ${LIMIT}$`));
      // Where Fastify's JSON parser ran, the raw body is gone: reported, never verified re-serialized.
      const parsed = await post(`${url}/parsed`, valid("parsed"));
      assert.deepEqual([parsed.status, parsed.json.error], [500, "raw_body_unavailable"]);
      assert.match(parsed.json.message, /rawBodyParser/);
      assert.deepEqual(await received(), ["call_answers", "call_prehandler"]);
    }));

  test(`Koa (${label}): before and after koa-bodyparser, without onEvent, and a body parsed without its raw text`, () =>
    withApp("koa", format, async ({ url, received }) => {
      // koa-bodyparser, mounted after the webhook middleware, still parses the app's JSON.
      assert.deepEqual(await post(`${url}/api/echo`, { body: '{"a":1}', headers: { "content-type": "application/json" } }), { status: 200, json: { a: 1 } });
      assert.deepEqual(await post(`${url}/answers`, valid("answers")), { status: 202, json: { mine: "call_ended", body: true } });
      assert.deepEqual(await post(`${url}/next`, valid("next")), { status: 200, json: { handled: "call_ended", parsed: true } });
      // Mounted after koa-bodyparser: the raw text it keeps is verified, and the limit applies to it.
      assert.deepEqual(await post(`${url}/after-parser`, valid("after")), { status: 200, json: { received: true } });
      const rejected = await post(`${url}/after-parser`, forged());
      assert.deepEqual([rejected.status, rejected.json.error], [401, "signature_mismatch"]);
      const large = await post(`${url}/after-parser`, bigEvent());
      assert.deepEqual([large.status, large.json.error], [413, "payload_too_large"]);
      assert.match(large.json.message, new RegExp(`more than the allowed ${LIMIT}$`));
      const stripped = await post(`${url}/stripped`, valid("stripped"));
      assert.deepEqual([stripped.status, stripped.json.error], [500, "raw_body_unavailable"]);
      // Another method or path goes on to the rest of the app.
      assert.equal((await fetch(`${url}/webhooks/threetone`)).status, 404);
      assert.deepEqual(await received(), ["call_answers", "call_next", "call_after"]);
    }));
}

test("Fastify: the server's bodyLimit is the plugin's limit unless maxBodyBytes is given", async () => {
  const app = await fastifyApp({ Fastify, adapter: fastifyAdapter, received: [], serverOptions: { bodyLimit: LIMIT } });
  await app.listen({ port: 0, host: "127.0.0.1" });
  try {
    const url = `http://127.0.0.1:${app.server.address().port}`;
    await assertBodyLimits(`${url}/default`, SECRET);
    assert.equal((await post(`${url}/default`, bigEvent())).status, 413);
  } finally {
    await app.close();
  }
});

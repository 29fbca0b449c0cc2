// The Fastify and Koa apps of frameworks.test.mjs, built from the modules the
// caller loaded: the ES module adapters there, the CommonJS ones in
// framework-server.cjs (a child process). Every webhook route answers
// verified events with 200 and records them in `received`.
"use strict";

const SECRET = "whsec_frameworks";
const LIMIT = 4096;

/**
 * A Fastify app: the plugin on /webhooks/threetone, /limited (maxBodyBytes)
 * and /default (the server's bodyLimit, 1 MiB), /answers (onEvent answers
 * itself); rawBodyParser + threetonePreHandler in a scope of their own on
 * /prehandler (bodyLimit LIMIT); the preHandler where Fastify's JSON parser
 * ran (/parsed); the app's own JSON route /api/echo.
 */
async function fastifyApp({ Fastify, adapter, received, serverOptions = {} }) {
  const app = Fastify(serverOptions);
  const onEvent = (event) => void received.push(event.data.call_id);
  await app.register(adapter.threetoneWebhook, { path: "/webhooks/threetone", secret: SECRET, onEvent });
  await app.register(adapter.threetoneWebhook, { path: "/limited", secret: SECRET, maxBodyBytes: LIMIT, onEvent });
  await app.register(adapter.threetoneWebhook, { path: "/default", secret: SECRET, onEvent });
  await app.register(adapter.threetoneWebhook, {
    path: "/answers",
    secret: SECRET,
    onEvent: (event, request, reply) => {
      received.push(event.data.call_id);
      reply.code(202).send({ mine: event.event, raw: Buffer.isBuffer(request.body) });
    },
  });
  await app.register(async (scope) => {
    await scope.register(adapter.rawBodyParser);
    const preHandler = adapter.threetonePreHandler({ secret: [`${SECRET}_new`, SECRET] });
    scope.post("/prehandler", { bodyLimit: LIMIT, preHandler }, async (request) => {
      received.push(request.threetoneEvent.data.call_id);
      return { handled: request.threetoneEvent.event };
    });
  });
  app.post("/parsed", { preHandler: adapter.threetonePreHandler({ secret: SECRET }) }, async () => ({ handled: true }));
  app.post("/api/echo", async (request) => request.body);
  return app;
}

/**
 * A Koa app: the middleware on /webhooks/threetone, /limited and /default
 * before koa-bodyparser; on /after-parser after it (the raw text it keeps),
 * with LIMIT; /next without onEvent (the next middleware answers); /stripped
 * after a parser that keeps no raw body; the app's own JSON route /api/echo.
 */
function koaApp({ Koa, bodyParser, adapter, received }) {
  const app = new Koa();
  const onEvent = (event, ctx) => {
    received.push(event.data.call_id);
    if (ctx.path === "/answers") {
      ctx.status = 202;
      ctx.body = { mine: event.event, body: ctx.request.body === event };
    }
  };
  app.use(adapter.threetoneWebhook({ path: "/webhooks/threetone", secret: SECRET, onEvent }));
  app.use(adapter.threetoneWebhook({ path: "/limited", secret: SECRET, maxBodyBytes: LIMIT, onEvent }));
  app.use(adapter.threetoneWebhook({ path: "/default", secret: [`${SECRET}_new`, SECRET], onEvent }));
  app.use(adapter.threetoneWebhook({ path: "/answers", secret: SECRET, onEvent }));
  app.use(adapter.threetoneWebhook({ path: "/next", secret: SECRET }));
  app.use(async (ctx, next) => {
    if (ctx.path !== "/next") return next();
    received.push(ctx.state.threetoneEvent.data.call_id);
    ctx.body = { handled: ctx.state.threetoneEvent.event, parsed: ctx.request.body === ctx.state.threetoneEvent };
  });
  app.use(async (ctx, next) => {
    if (ctx.path === "/stripped") ctx.request.body = { parsed: "elsewhere" };
    return next();
  });
  app.use(adapter.threetoneWebhook({ path: "/stripped", secret: SECRET, onEvent }));
  app.use(bodyParser());
  app.use(adapter.threetoneWebhook({ path: "/after-parser", secret: SECRET, maxBodyBytes: LIMIT, onEvent }));
  app.use(async (ctx) => {
    if (ctx.path === "/api/echo") ctx.body = ctx.request.body;
  });
  return app;
}

module.exports = { SECRET, LIMIT, fastifyApp, koaApp };

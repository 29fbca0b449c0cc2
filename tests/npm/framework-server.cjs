// The Fastify or Koa app of framework-apps.cjs with the CommonJS adapters
// (require), as a child process for frameworks.test.mjs. Prints its port as
// one JSON line; GET /received answers the call ids of the events received.
// Usage: node framework-server.cjs fastify|koa
"use strict";
const http = require("node:http");
const { fastifyApp, koaApp } = require("./framework-apps.cjs");

const received = [];

async function main(framework) {
  if (framework === "fastify") {
    const app = await fastifyApp({ Fastify: require("fastify"), adapter: require("threetone-webhooks/fastify"), received });
    app.get("/received", async () => received);
    await app.listen({ port: 0, host: "127.0.0.1" });
    return app.server.address().port;
  }
  const app = koaApp({ Koa: require("koa"), bodyParser: require("koa-bodyparser"), adapter: require("threetone-webhooks/koa"), received });
  const callback = app.callback();
  const server = http.createServer((req, res) => {
    if (req.url === "/received") return void res.end(JSON.stringify(received));
    callback(req, res);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server.address().port;
}

main(process.argv[2]).then((port) => console.log(JSON.stringify({ port })));

// A node:http server with createNodeHandler, for adapters.test.mjs: run as a
// child process, so that a request that crashes the process shows as the
// child exiting. Prints its port, then one JSON line per event and per
// onError. Usage: node node-http-server.mjs [default-on-error]
// Events whose call_id is call_throw throw in onEvent, call_reject reject.
import http from "node:http";

import { createNodeHandler } from "threetone-webhooks/node";

const handler = createNodeHandler({
  secret: process.env.THREETONE_TEST_SECRET,
  maxBodyBytes: 4096,
  onEvent(event) {
    if (event.data.call_id === "call_throw") throw new Error("onEvent failed at once");
    if (event.data.call_id === "call_reject") return Promise.reject(new Error("onEvent failed later"));
    console.log(JSON.stringify({ event: event.data.call_id }));
  },
  ...(process.argv[2] === "default-on-error" ? {} : { onError: (error) => console.log(JSON.stringify({ onError: error.message })) }),
});

const server = http.createServer(handler).listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: server.address().port })));

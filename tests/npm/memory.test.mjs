// Node only: a body too large for the wasm input (2 GiB, more than a wasm32
// buffer can hold) is refused cleanly, and the module keeps working. In a
// child process, ES module and CommonJS, so that the 2 GiB (zero pages, never
// touched) leave with it.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const here = dirname(fileURLToPath(import.meta.url));

// Every call that takes a body, on one 2 GiB body, then normal calls. Prints one JSON line.
const script = (load) => `${load}
const huge = new Uint8Array(2 ** 31);
const outcome = (fn) => {
  try {
    fn();
    return "accepted";
  } catch (error) {
    return error instanceof lib.WebhookVerificationError ? [error.code, error.status, error.message].join(" ") : String(error);
  }
};
const event = lib.generateTestEvent("call_ended", { secret: "k" });
const signature = event.headers["x-threetone-signature"];
const webhook = new lib.Webhook("k");
const calls = {
  verify: () => lib.verify(huge, signature, "k"),
  verifyOrThrow: () => lib.verifyOrThrow(huge, signature, "k"),
  sign: () => lib.sign(huge, "k"),
  constructEvent: () => lib.constructEvent(huge, signature, "k"),
  parseEvent: () => lib.parseEvent(huge),
  "Webhook.verify": () => webhook.verify(huge, signature),
  "Webhook.constructEvent": () => webhook.constructEvent(huge.buffer, signature),
};
const results = {};
for (const [name, call] of Object.entries(calls)) {
  results[name] = outcome(call);
  results[name + " then"] = outcome(() => {
    if (!lib.verify(event.body, signature, "k") || lib.constructEvent(event.body, signature, "k").event !== "call_ended") throw new Error("wrong answer");
  });
}
results.limited = outcome(() => lib.verify(huge, signature, "k", { maxBodyBytes: 1024 }));
console.log(JSON.stringify(results));
`;

function runChild(args) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: here, maxBuffer: 1 << 20 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stdout}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    );
  });
}

function assertRefused(results) {
  // No limit was set: the core's OutOfMemory, not a made-up limit.
  const refused = "payload_too_large 413 body is 2147483648 bytes, more than fits in memory";
  for (const name of ["verify", "verifyOrThrow", "sign", "constructEvent", "parseEvent", "Webhook.verify", "Webhook.constructEvent"]) {
    assert.equal(results[name], refused, name);
    assert.equal(results[`${name} then`], "accepted", `the calls after ${name}`);
  }
  assert.equal(results.limited, "payload_too_large 413 body is 2147483648 bytes, more than the allowed 1024");
}

test("a 2 GiB body is payload_too_large (413), and the module works after it (ES module)", async () => {
  assertRefused(await runChild(["--input-type=module", "-e", script('import * as lib from "threetone-webhooks";')]));
});

test("a 2 GiB body is payload_too_large (413), and the module works after it (CommonJS)", async () => {
  assertRefused(await runChild(["-e", script('const lib = require("threetone-webhooks");')]));
});

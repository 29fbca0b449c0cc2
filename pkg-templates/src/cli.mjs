#!/usr/bin/env node
// threetone-webhooks sign | verify | send: sign and check bodies, and send
// realistic signed sample events to a URL (like `stripe trigger`).

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { EVENT_TYPES, SIGNATURE_HEADER, WebhookVerificationError, generateTestEvent, sign, verifyOrThrow } from "threetone-webhooks";

const HELP = {
  main: `Usage: threetone-webhooks <command> [options]

Commands:
  sign     Print the ${SIGNATURE_HEADER} value for a body
  verify   Check a signature against a body
  send     POST a signed sample event to a URL and print the response

Run 'threetone-webhooks <command> --help' for a command's options.`,
  sign: `Usage: threetone-webhooks sign --secret SECRET [FILE]

Prints sha256=<hex> for the body in FILE (or standard input), signed with SECRET.`,
  verify: `Usage: threetone-webhooks verify --secret SECRET --signature HEADER [FILE]

Checks HEADER (sha256=<hex>) against the body in FILE (or standard input).
Exits 0 and prints "valid" if it matches, else prints the error code and exits 1.
--secret may be repeated: valid if any matches (rotation).`,
  send: `Usage: threetone-webhooks send --url URL --secret SECRET --event TYPE [--data JSON]

POSTs a realistic sample TYPE event, signed with SECRET, to URL and prints the
response status and body. --data merges JSON into the event's data.
Event types: ${EVENT_TYPES.join(", ")}`,
};

const OPTIONS = {
  secret: { type: "string", multiple: true },
  signature: { type: "string" },
  url: { type: "string" },
  event: { type: "string" },
  data: { type: "string" },
  help: { type: "boolean", short: "h" },
};

function fail(message, command) {
  console.error(`threetone-webhooks: ${message}`);
  if (command) console.error(`\n${HELP[command]}`);
  process.exit(2);
}

function readBody(file) {
  return readFileSync(file ?? 0); // 0: standard input
}

function required(values, name, command) {
  if (values[name] === undefined) fail(`--${name} is required`, command);
  return values[name];
}

async function main(argv) {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    console.log(HELP.main);
    return 0;
  }
  if (!(command in HELP) || command === "main") fail(`unknown command ${JSON.stringify(command)}`, "main");
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true });
  } catch (error) {
    fail(error.message, command);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP[command]);
    return 0;
  }
  const secrets = required(values, "secret", command);
  switch (command) {
    case "sign":
      console.log(sign(readBody(positionals[0]), secrets[0]));
      return 0;
    case "verify":
      try {
        verifyOrThrow(readBody(positionals[0]), required(values, "signature", command), secrets);
        console.log("valid");
        return 0;
      } catch (error) {
        if (!(error instanceof WebhookVerificationError)) throw error;
        console.log(`invalid: ${error.code} (${error.message})`);
        return 1;
      }
    case "send": {
      const url = required(values, "url", command);
      const type = required(values, "event", command);
      if (!EVENT_TYPES.includes(type)) fail(`unknown event type ${JSON.stringify(type)}`, command);
      const overrides = values.data === undefined ? undefined : { data: JSON.parse(values.data) };
      const { body, headers } = generateTestEvent(type, { secret: secrets[0], overrides });
      const response = await fetch(url, { method: "POST", headers, body });
      console.log(`${response.status} ${response.statusText}`);
      console.log(await response.text());
      return response.ok ? 0 : 1;
    }
  }
  return 2;
}

process.exitCode = await main(process.argv.slice(2));

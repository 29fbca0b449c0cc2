#!/usr/bin/env node
// threetone-webhooks sign | verify | send | listen: sign and check bodies,
// send realistic signed sample events to a URL (like `stripe trigger`), and
// forward the events a threetone-edge Worker verifies to a local URL (like
// `stripe listen`).

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { EVENT_TYPES, SIGNATURE_HEADER, WebhookVerificationError, generateTestEvent, sign, verifyOrThrow } from "threetone-webhooks";
import { listen, listenUrl } from "./listen.mjs";

const HELP = {
  main: `Usage: threetone-webhooks <command> [options]

Commands:
  sign     Print the ${SIGNATURE_HEADER} value for a body
  verify   Check a signature against a body
  send     POST a signed sample event to a URL and print the response
  listen   Forward the events a threetone-edge Worker verifies to a local URL

Run 'threetone-webhooks <command> --help' for a command's options.

The secret may come from the environment variable THREETONE_WEBHOOK_SECRET
instead of --secret (which wins when both are given), so that it need not
appear on the command line.`,
  sign: `Usage: threetone-webhooks sign --secret SECRET [FILE]

Prints sha256=<hex> for the body in FILE (or standard input), signed with SECRET.
Without --secret, the secret is THREETONE_WEBHOOK_SECRET's value.`,
  verify: `Usage: threetone-webhooks verify --secret SECRET --signature HEADER [FILE]

Checks HEADER (sha256=<hex>) against the body in FILE (or standard input).
Exits 0 and prints "valid" if it matches, else prints the error code and exits 1.
--secret may be repeated: valid if any matches (rotation). Without --secret,
the secret is THREETONE_WEBHOOK_SECRET's value.`,
  send: `Usage: threetone-webhooks send --url URL --secret SECRET --event TYPE [--data JSON]

POSTs a realistic sample TYPE event, signed with SECRET, to URL and prints the
response status and body. --data merges JSON into the event's data.
Without --secret, the secret is THREETONE_WEBHOOK_SECRET's value.
Redirects are not followed (the signed body goes nowhere but URL): a redirect
is printed with its Location and exits 1. Plain http:// to a host other than
this machine gets a warning: the body and its signature cross the network
unencrypted.
Event types: ${EVENT_TYPES.join(", ")}`,
  listen: `Usage: threetone-webhooks listen --edge URL --token TOKEN --forward-to URL [--events TYPES] [--secret SECRET]

Connects to the threetone-edge Worker at --edge over a WebSocket (GET /listen,
authenticated with its admin token) and forwards every event the Worker
verified to --forward-to: the exact body, with Content-Type,
X-ThreeTone-Event, X-ThreeTone-Delivery-Id and an ${SIGNATURE_HEADER} made
with a local signing secret, which it prints at the start (whsec_ and 32 hex
digits, new on each start) so that your endpoint can verify it. Prints one line
per event: when the Worker received it, its type, its call id, your endpoint's
status and the time it took. Reconnects after 1 s, 2 s, ... up to 30 s when the
connection drops. Listening changes nothing the Worker's destinations receive;
the Worker takes at most 5 listeners.

  --edge URL        the Worker (https://..., or http://127.0.0.1:8787 for wrangler dev)
  --token TOKEN     its ADMIN_TOKEN (default: THREETONE_ADMIN_TOKEN's value)
  --forward-to URL  where to POST each event (redirects are not followed; 10 s timeout)
  --events TYPES    only these types, comma separated (filtered by the Worker and here)
  --secret SECRET   sign with this secret instead of a new one (default:
                    THREETONE_LISTEN_SECRET's value); it is not printed

Event types: ${EVENT_TYPES.join(", ")}`,
};

const OPTIONS = /** @type {const} */ ({
  secret: { type: "string", multiple: true },
  signature: { type: "string" },
  url: { type: "string" },
  event: { type: "string" },
  data: { type: "string" },
  edge: { type: "string" },
  token: { type: "string" },
  "forward-to": { type: "string" },
  events: { type: "string", multiple: true },
  help: { type: "boolean", short: "h" },
});

/**
 * Prints `message` (and the command's help) and exits 2.
 * @param {string} message
 * @param {string} [command]
 * @returns {never}
 */
function fail(message, command) {
  console.error(`threetone-webhooks: ${message}`);
  if (command) console.error(`\n${HELP[/** @type {keyof HELP} */ (command)]}`);
  process.exit(2);
}

/** @param {string | undefined} file */
function readBody(file) {
  return readFileSync(file ?? 0); // 0: standard input
}

/** Environment variable the secret may come from instead of --secret. */
const SECRET_VARIABLE = "THREETONE_WEBHOOK_SECRET";

/**
 * @typedef {{
 *   secret?: string[], signature?: string, url?: string, event?: string, data?: string,
 *   edge?: string, token?: string, "forward-to"?: string, events?: string[], help?: boolean,
 * }} Values
 */

/**
 * --secret's values, else the environment's secret (unset or empty: none).
 * @param {Values} values
 * @param {string} command
 * @returns {string[]}
 */
function secretsOf(values, command) {
  if (values.secret !== undefined) return values.secret;
  const secret = process.env[SECRET_VARIABLE];
  if (secret === undefined || secret === "") fail(`--secret is required (or set ${SECRET_VARIABLE})`, command);
  return [secret];
}

/**
 * Whether `url` names this machine (localhost, 127.0.0.0/8, ::1).
 * @param {URL} url
 */
function isLoopback(url) {
  const host = url.hostname.toLowerCase();
  return host === "localhost" || host.endsWith(".localhost") || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * @param {Values} values
 * @param {string} command
 */
async function send(values, command) {
  const secrets = secretsOf(values, command);
  const target = required(values, "url", command);
  const type = required(values, "event", command);
  if (!(/** @type {readonly string[]} */ (EVENT_TYPES).includes(type))) fail(`unknown event type ${JSON.stringify(type)}`, command);
  /** @type {URL} */
  let url;
  try {
    url = new URL(target);
  } catch {
    fail(`--url ${JSON.stringify(target)} is not a URL`, command);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") fail(`--url must be http:// or https://, got ${url.protocol}`, command);
  if (url.protocol === "http:" && !isLoopback(url)) {
    const warning = `${url.host} is reached over plain http://: the signed body crosses the network unencrypted`;
    console.error(`threetone-webhooks: warning: ${warning}`);
  }
  const overrides = values.data === undefined ? undefined : { data: JSON.parse(values.data) };
  const { body, headers } = generateTestEvent(/** @type {import("threetone-webhooks").EventType} */ (type), { secret: secrets[0], overrides });
  let response;
  try {
    // Never to another place than --url: a redirect would take the signed body with it.
    response = await fetch(url, { method: "POST", headers, body, redirect: "manual" });
  } catch (thrown) {
    const error = /** @type {Error & { cause?: Error }} */ (thrown);
    console.error(`threetone-webhooks: cannot send to ${url.href}: ${error.cause?.message ?? error.message}`);
    return 1;
  }
  console.log(`${response.status} ${response.statusText}`);
  const location = response.headers.get("location");
  if (response.status >= 300 && response.status < 400) {
    console.log(`Location: ${location ?? "(none)"}`);
    console.error(`threetone-webhooks: redirect not followed: the event was not delivered (send it to the final URL)`);
    return 1;
  }
  console.log(await response.text());
  return response.ok ? 0 : 1;
}

/**
 * `value` as a URL of one of `protocols`, or exits 2 saying why not.
 * @param {string} value
 * @param {string} option
 * @param {string[]} protocols
 * @param {string} command
 * @returns {URL}
 */
function urlOption(value, option, protocols, command) {
  /** @type {URL} */
  let url;
  try {
    url = new URL(value);
  } catch {
    fail(`${option} ${JSON.stringify(value)} is not a URL`, command);
  }
  if (!protocols.includes(url.protocol)) fail(`${option} must be ${protocols.map((p) => `${p}//`).join(" or ")}, got ${url.protocol}`, command);
  return url;
}

/** Environment variables `listen` reads. */
const TOKEN_VARIABLE = "THREETONE_ADMIN_TOKEN";
const LISTEN_SECRET_VARIABLE = "THREETONE_LISTEN_SECRET";

/**
 * @param {Values} values
 * @param {string} command
 */
async function listenCommand(values, command) {
  const edge = urlOption(required(values, "edge", command), "--edge", ["https:", "http:", "wss:", "ws:"], command);
  const forwardTo = urlOption(required(values, "forward-to", command), "--forward-to", ["http:", "https:"], command);
  const token = values.token ?? process.env[TOKEN_VARIABLE];
  if (token === undefined || token === "") fail(`--token is required (or set ${TOKEN_VARIABLE})`, command);
  const events = (values.events ?? []).flatMap((list) => list.split(",")).map((name) => name.trim()).filter((name) => name !== "");
  for (const name of events) {
    if (!/^[a-z0-9_]+$/.test(name)) fail(`--events: ${JSON.stringify(name)} is no event type`, command);
    if (!(/** @type {readonly string[]} */ (EVENT_TYPES).includes(name))) console.error(`threetone-webhooks: warning: ${name} is not an event type this version knows`);
  }
  if ((values.secret?.length ?? 0) > 1) fail("listen signs with one --secret", command);
  const given = values.secret?.[0] ?? process.env[LISTEN_SECRET_VARIABLE];
  const secret = given === undefined || given === "" ? `whsec_${randomBytes(16).toString("hex")}` : given;
  if ((edge.protocol === "http:" || edge.protocol === "ws:") && !isLoopback(edge)) {
    console.error(`threetone-webhooks: warning: ${edge.host} is reached over plain ${edge.protocol}//: the admin token crosses the network unencrypted`);
  }
  // The one secret ever printed: made here for this purpose, as `stripe listen` prints its whsec_.
  if (secret === given) console.log(`Signing forwarded events with the secret from ${values.secret ? "--secret" : LISTEN_SECRET_VARIABLE}`);
  else console.log(`Your webhook signing secret is ${secret} (verify forwarded events with it)`);
  console.error(`threetone-webhooks: connecting to ${listenUrl(edge.href, events).href}`);
  const listener = listen({ edge: edge.href, token, forwardTo: forwardTo.href, secret, events });
  const stop = () => void listener.stop();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const code = await listener.finished;
  process.off("SIGINT", stop);
  process.off("SIGTERM", stop);
  return code;
}

/**
 * @param {Values} values
 * @param {"url" | "event" | "signature" | "edge" | "forward-to"} name
 * @param {string} command
 * @returns {string}
 */
function required(values, name, command) {
  if (values[name] === undefined) fail(`--${name} is required`, command);
  return /** @type {string} */ (values[name]);
}

/** @param {string[]} argv */
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
    fail(/** @type {Error} */ (error).message, command);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP[/** @type {keyof HELP} */ (command)]);
    return 0;
  }
  switch (command) {
    case "sign": {
      const [secret] = secretsOf(values, command);
      console.log(sign(readBody(positionals[0]), secret));
      return 0;
    }
    case "verify": {
      const secrets = secretsOf(values, command);
      const signature = required(values, "signature", command);
      try {
        verifyOrThrow(readBody(positionals[0]), signature, secrets);
        console.log("valid");
        return 0;
      } catch (error) {
        if (!(error instanceof WebhookVerificationError)) throw error;
        console.log(`invalid: ${error.code} (${error.message})`);
        return 1;
      }
    }
    case "send":
      return send(values, command);
    case "listen":
      return listenCommand(values, command);
  }
  return 2;
}

process.exitCode = await main(process.argv.slice(2));

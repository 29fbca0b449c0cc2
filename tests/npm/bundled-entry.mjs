// The shared suite for bundled runtimes (workerd, Chromium): vectors are
// bundled in, and the package is resolved by the bundler as a user's would be.
import * as lib from "threetone-webhooks";
import runSuite from "./suite.cjs";
import signatures from "./vectors/signatures.json";
import headers from "./vectors/signature-headers.json";
import payloads from "./vectors/payload-cases.json";
import catalog from "./vectors/catalog.json";
import callStarted from "./vectors/payloads/call_started.json";
import callEnded from "./vectors/payloads/call_ended.json";
import conversationEnded from "./vectors/payloads/conversation_ended.json";
import escalationTriggered from "./vectors/payloads/escalation_triggered.json";

const seeds = Object.fromEntries(
  Object.entries({ call_started: callStarted, call_ended: callEnded, conversation_ended: conversationEnded, escalation_triggered: escalationTriggered })
    .map(([name, value]) => [name, JSON.stringify(value)]),
);

export function runBundled(runtime) {
  return runSuite(lib, { signatures, headers, payloads, catalog, seeds }, runSuite.peerSign).then((results) => ({
    ...results,
    summary: runSuite.summary(runtime, results),
  }));
}

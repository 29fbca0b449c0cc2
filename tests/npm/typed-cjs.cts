// The CommonJS view of the same types (require condition, .d.cts).
import threetone = require("threetone-webhooks");

const event: threetone.ThreeToneEvent = threetone.parseEvent("{}");
const valid: boolean = threetone.verify("body", "sha256=00", "k");
void event, valid;
// @ts-expect-error: the body must be raw
threetone.verify({ parsed: true }, "sha256=00", "k");
const known: threetone.KnownEvent = threetone.parseEvent("{}", { allowUnknownEvents: false });
// @ts-expect-error: by default an unknown event can arrive
const open: threetone.KnownEvent = threetone.parseEvent("{}");
void known, open;

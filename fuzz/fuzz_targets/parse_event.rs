//! `parse_event` and `construct_event` on an arbitrary body.
//!
//! Properties, under the default options and under strict ones (unknown types
//! rejected, a freshness window): nothing panics; `construct_event` with the
//! body's own signature gives what `parse_event` gives, and with a wrong one
//! fails on the signature; an accepted event answers `event_name()` and
//! `call_id()`, serializes to the same JSON value as the body (no field lost or
//! changed), and parsing that JSON again gives an equal event. And the
//! validator's own JSON reader calls the body invalid JSON exactly when
//! serde_json refuses to parse it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use threetone_webhooks::{Error, Event, Options, PayloadError, Verifier, VerifyError, parse_event, validate_event};

/// Secret of the verifier (the one in ThreeTone's documentation).
const SECRET: &str = "your_webhook_secret_key";

/// A well-formed header that no body can match in practice.
const WRONG_SIGNATURE: &str =
    "sha256=0000000000000000000000000000000000000000000000000000000000000000";

/// "Now" for the freshness window: five minutes after the documented examples.
const NOW: i64 = 1_705_314_900;

fuzz_target!(|body: &[u8]| {
    let verifier = Verifier::new(SECRET).expect("the secret is not empty");
    let signed = verifier.sign(body);
    let strict = Options::default().reject_unknown_events().max_age(300, NOW);
    for options in [Options::default(), strict] {
        let parsed = parse_event(body, &options);
        let constructed = verifier.construct_event(body, &signed, &options);
        assert_eq!(constructed, parsed.clone().map_err(Error::from));
        // Not `parsed`: parse_event's own serde_json pass would hide a body the
        // reader wrongly accepts.
        let validated = validate_event(body, &options);
        let invalid_json = matches!(validated, Err(PayloadError::InvalidJson { .. }));
        assert_eq!(invalid_json, serde_json::from_slice::<Value>(body).is_err());
        if let Ok(event) = parsed {
            check_event(body, &event);
        }
    }
    assert_eq!(
        verifier.construct_event(body, WRONG_SIGNATURE, &Options::default()),
        Err(Error::Verify(VerifyError::Mismatch))
    );
});

/// The accessors agree with the JSON, which is the body's, and parses back
/// to the same event.
fn check_event(body: &[u8], event: &Event) {
    let value = serde_json::to_value(event).expect("an event serializes");
    let sent: Value = serde_json::from_slice(body).expect("an accepted body is JSON");
    assert_eq!(value, sent, "serializing lost or changed a field");

    assert_eq!(value["event"].as_str(), Some(event.event_name()));
    if let Some(event_type) = event.event_type() {
        assert_eq!(event_type.as_str(), event.event_name());
    }
    if let Some(call_id) = event.call_id() {
        assert_eq!(value["data"]["call_id"].as_str(), Some(call_id));
    }

    let json = serde_json::to_vec(event).expect("an event serializes");
    let again = parse_event(&json, &Options::default());
    assert_eq!(again.as_ref(), Ok(event), "serialized as {}", String::from_utf8_lossy(&json));
}

//! Regression tests for bugs found by fuzzing (`cargo xtask fuzz --time <seconds>`,
//! targets in `fuzz/fuzz_targets/`).

use threetone_webhooks::{EventData, Options, parse_event};

/// A `call_ended` body whose `satisfaction_score` is `score`, written as is.
fn call_ended_with_score(score: &str) -> Vec<u8> {
    format!(
        r#"{{"event":"call_ended","timestamp":"2024-01-15T10:35:00Z","data":{{
            "call_id":"call_abc123","duration_seconds":300,"end_reason":"completed",
            "resolution_status":"resolved","conversation_summary":"",
            "satisfaction_score":{score},"transcript_available":true,"recording_available":true}}}}"#
    )
    .into_bytes()
}

/// Found by the `parse_event` target: serializing an event and parsing the JSON
/// again changed a number by one ulp.
///
/// serde_json's default float parser is fast but not correctly rounded: about
/// one float in ten written with all its significant digits (as Python,
/// JavaScript and serde_json itself write them) was read one ulp off, so a
/// parsed number could differ from the one sent, and from the event's own
/// serialization. Fixed by serde_json's `float_roundtrip` feature.
#[test]
fn numbers_are_read_exactly_and_survive_a_round_trip() {
    let texts = [
        "2.9504483359709606",
        "8.704333333333333e+136",
        // The fuzzer's input, which parses to the float above.
        &format!("8704{}4", "3".repeat(132)),
    ];
    for text in texts {
        let event = parse_event(&call_ended_with_score(text), &Options::default()).unwrap();
        let EventData::CallEnded(ended) = &event.data else { panic!("not call_ended: {event:?}") };
        // The standard library's parser is correctly rounded.
        assert_eq!(ended.satisfaction_score.as_f64(), text.parse().ok(), "{text}");

        let json = serde_json::to_vec(&event).unwrap();
        assert_eq!(parse_event(&json, &Options::default()).as_ref(), Ok(&event), "{text}");
    }
}

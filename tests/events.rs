//! Parsing and validation: the seed's payloads, losslessness, every rejection
//! with its JSON path, options and `construct_event`.

mod common;

use common::{seed_payload, str_field, vectors};
use serde_json::{Value, json};
use threetone_webhooks::{
    Direction, EndReason, Event, EventData, EventType, Options, PayloadError, Sentiment, Timestamp,
    Verifier, VerifyError, parse_event, sample_event, validate_event,
};

fn round_trips(body: &[u8], event: &Event) {
    let original: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(serde_json::to_value(event).unwrap(), original);
}

#[test]
fn every_payload_case_is_accepted_or_rejected_at_its_path() {
    let document = vectors("payload-cases.json");
    let cases = document["cases"].as_array().unwrap();
    assert!(cases.len() >= 50);
    for case in cases {
        let name = str_field(case, "name");
        let body = str_field(case, "body").as_bytes();
        let result = parse_event(body, &Options::default());
        match case["code"].as_str() {
            None => {
                let event = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(event.event_name(), str_field(case, "event"), "{name}");
                round_trips(body, &event);
            }
            Some(code) => {
                let error = result.expect_err(name);
                assert_eq!(error.code(), code, "{name}: {error}");
                assert_eq!(error.http_status(), 400, "{name}");
                if let Some(path) = case["path"].as_str() {
                    let PayloadError::Invalid(invalid) = &error else {
                        panic!("{name}: {error:?}")
                    };
                    assert_eq!(invalid.path, path, "{name}: {error}");
                    assert!(!invalid.expected.is_empty() && !invalid.found.is_empty(), "{name}");
                    // Where the case says what was expected and found, exactly that.
                    for (key, value) in [("expected", &invalid.expected), ("found", &invalid.found)]
                    {
                        if let Some(text) = case.get(key).and_then(Value::as_str) {
                            assert_eq!(value, text, "{name}: {key}");
                        }
                    }
                    assert_eq!(
                        error.to_string(),
                        format!(
                            "invalid payload at {path}: expected {}, found {}",
                            invalid.expected, invalid.found
                        )
                    );
                } else {
                    assert_eq!(error.invalid_field(), None, "{name}");
                }
            }
        }
    }
}

#[test]
fn seed_call_started_is_typed() {
    let event = parse_event(&seed_payload("call_started"), &Options::default()).unwrap();
    assert_eq!(event.event_type(), Some(EventType::CallStarted));
    assert_eq!(event.timestamp.unix_seconds(), 1_705_314_600);
    let EventData::CallStarted(call) = &event.data else { panic!("{event:?}") };
    assert_eq!(call.call_id, "call_abc123");
    assert_eq!(call.direction, Direction::Inbound);
    assert_eq!(call.call_source.as_str(), "phone_system");
    assert_eq!(call.metadata["call_queue"], "support_queue");
    assert!(call.extra.is_empty());
}

#[test]
fn seed_call_ended_is_typed() {
    let event = parse_event(&seed_payload("call_ended"), &Options::default()).unwrap();
    let EventData::CallEnded(call) = &event.data else { panic!("{event:?}") };
    assert_eq!(call.duration_seconds, 300);
    assert_eq!(call.end_reason, EndReason::Completed);
    assert_eq!(call.satisfaction_score.as_f64(), Some(4.5));
    assert!(call.transcript_available && call.recording_available);
}

#[test]
fn seed_conversation_ended_is_typed() {
    let event = parse_event(&seed_payload("conversation_ended"), &Options::default()).unwrap();
    let EventData::ConversationEnded(conversation) = &event.data else { panic!("{event:?}") };
    assert_eq!(conversation.turn_count, 15);
    assert_eq!(conversation.topics_discussed, ["billing", "account_settings"]);
    assert_eq!(conversation.sentiment_analysis.overall_sentiment, Sentiment::Positive);
    assert_eq!(conversation.sentiment_analysis.sentiment_score.value(), 0.7);
    assert!(!conversation.escalation_occurred);
}

#[test]
fn seed_escalation_triggered_is_typed() {
    let event = parse_event(&seed_payload("escalation_triggered"), &Options::default()).unwrap();
    let EventData::EscalationTriggered(escalation) = &event.data else { panic!("{event:?}") };
    assert_eq!(escalation.escalation_reason.as_str(), "customer_requested_human");
    assert_eq!(escalation.escalation_trigger.as_str(), "keyword_detected");
    assert_eq!(escalation.target_queue, "human_agents");
}

#[test]
fn unknown_fields_and_values_are_kept() {
    let body = json!({
        "event": "call_ended", "timestamp": "2024-01-15T10:35:00Z", "webhook_id": "webhook_123",
        "data": {
            "call_id": "c", "duration_seconds": 0, "end_reason": "caller_hung_up",
            "resolution_status": "resolved", "conversation_summary": "", "satisfaction_score": 5,
            "transcript_available": false, "recording_available": false,
            "cost": {"amount": 0.12, "currency": "USD"}, "note": null
        }
    })
    .to_string();
    let event = parse_event(body.as_bytes(), &Options::default()).unwrap();
    assert_eq!(event.extra["webhook_id"], "webhook_123");
    let EventData::CallEnded(call) = &event.data else { panic!("{event:?}") };
    assert_eq!(call.end_reason, EndReason::Other("caller_hung_up".into()));
    assert_eq!(call.extra["cost"]["currency"], "USD");
    assert_eq!(call.extra["note"], Value::Null);
    round_trips(body.as_bytes(), &event);
}

#[test]
fn null_optional_fields_survive_the_round_trip() {
    let body = br#"{"event":"system_error","timestamp":"2024-01-15T10:30:00Z","data":{"error_code":null,"component":"asr"}}"#;
    let event = parse_event(body, &Options::default()).unwrap();
    let EventData::SystemError(error) = &event.data else { panic!("{event:?}") };
    assert_eq!(error.error_code, None);
    assert_eq!(error.component.as_deref(), Some("asr"));
    round_trips(body, &event);
}

#[test]
fn unknown_event_types_parse_or_are_rejected_on_request() {
    let body = br#"{"event":"call_recording_ready","timestamp":"2024-01-15T10:30:00Z","data":{"url":"u"}}"#;
    let event = parse_event(body, &Options::default()).unwrap();
    assert_eq!(event.event_type(), None);
    let EventData::Unknown { event: name, data } = &event.data else { panic!("{event:?}") };
    assert_eq!((name.as_str(), data), ("call_recording_ready", &Some(json!({"url": "u"}))));
    let error = parse_event(body, &Options::default().reject_unknown_events()).unwrap_err();
    assert_eq!(error, PayloadError::UnknownEventType { event: "call_recording_ready".into() });
    assert_eq!(error.code(), "unknown_event_type");
}

/// The generated catalog's event types: name and required fields.
fn catalog_event_types() -> Vec<(String, Vec<String>)> {
    let catalog = vectors("catalog.json");
    let strings = |value: &Value| -> Vec<String> {
        value.as_array().unwrap().iter().map(|item| item.as_str().unwrap().to_owned()).collect()
    };
    catalog["event_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| (str_field(item, "name").to_owned(), strings(&item["required"])))
        .collect()
}

#[test]
fn every_event_type_has_a_name_that_parses_back() {
    let catalog = catalog_event_types();
    let names: Vec<&str> = EventType::ALL.iter().map(|event_type| event_type.as_str()).collect();
    let listed: Vec<&str> = catalog.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, listed, "EventType::ALL and tests/vectors/catalog.json");
    for (&event_type, (_, required)) in EventType::ALL.iter().zip(&catalog) {
        assert_eq!(EventType::from_name(event_type.as_str()), Some(event_type));
        let body =
            format!(r#"{{"event":"{event_type}","timestamp":"2024-01-15T10:30:00Z","data":{{}}}}"#);
        let result = parse_event(body.as_bytes(), &Options::default());
        // A payload with required fields refuses an empty object at the first
        // one; the others accept it.
        match (result, required.first()) {
            (Ok(event), None) => assert_eq!(event.event_type(), Some(event_type)),
            (Err(PayloadError::Invalid(invalid)), Some(first)) => {
                assert_eq!(invalid.path, format!("$.data.{first}"), "{event_type}");
                assert_eq!(invalid.found, "nothing", "{event_type}");
            }
            (result, first) => panic!("{event_type}: {result:?}, first required {first:?}"),
        }
    }
}

#[test]
fn freshness_is_checked_against_the_callers_clock() {
    let body = seed_payload("call_started"); // 2024-01-15T10:30:00Z = 1_705_314_600
    let at = |now: i64| parse_event(&body, &Options::default().max_age(300, now));
    assert!(at(1_705_314_600).is_ok());
    assert!(at(1_705_314_600 + 300).is_ok());
    assert!(at(1_705_314_600 - 300).is_ok());
    assert_eq!(
        at(1_705_314_600 + 301).unwrap_err(),
        PayloadError::TimestampTooOld { age_seconds: 301, max_age_seconds: 300 }
    );
    assert_eq!(at(1_705_314_600 - 301).unwrap_err().code(), "timestamp_in_future");
    assert_eq!(at(i64::MAX).unwrap_err().code(), "timestamp_too_old");
    assert_eq!(at(i64::MIN).unwrap_err().code(), "timestamp_in_future");
    // Off by default: a two-year-old event parses.
    assert!(parse_event(&body, &Options::default()).is_ok());
}

#[test]
fn hostile_bodies_get_typed_errors_not_panics() {
    for body in [
        vec![0xFF, 0xFE, 0x00],
        b"{\"event\":\"call_started\",\"x\":\"\xC3\x28\"}".to_vec(),
        "[".repeat(10_000).into_bytes(),
        format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000)).into_bytes(),
    ] {
        assert_eq!(parse_event(&body, &Options::default()).unwrap_err().code(), "invalid_json");
    }
}

#[test]
fn construct_event_verifies_before_parsing() {
    let verifier = Verifier::new("whsec_test").unwrap();
    let body = seed_payload("conversation_ended");
    let header = verifier.sign(&body);
    let event = verifier.construct_event(&body, &header, &Options::default()).unwrap();
    assert_eq!(event.event_type(), Some(EventType::ConversationEnded));

    let error =
        verifier.construct_event(b"not json", "sha256=00", &Options::default()).unwrap_err();
    assert_eq!((error.code(), error.http_status()), ("invalid_signature_length", 401));
    assert_eq!(error, VerifyError::InvalidLength { found: 2 }.into());

    let not_json = b"not json";
    let error = verifier
        .construct_event(not_json, &verifier.sign(not_json), &Options::default())
        .unwrap_err();
    assert_eq!((error.code(), error.http_status()), ("invalid_json", 400));
}

#[test]
fn events_deserialize_and_serialize_through_serde() {
    let event: Event = serde_json::from_slice(&seed_payload("escalation_triggered")).unwrap();
    assert_eq!(event.event_name(), "escalation_triggered");
    round_trips(&seed_payload("escalation_triggered"), &event);
    let error = serde_json::from_str::<Event>(r#"{"event":"call_started"}"#).unwrap_err();
    assert!(error.to_string().contains("$.timestamp"), "{error}");
}

#[test]
fn samples_of_every_type_parse_strictly_and_carry_their_id() {
    let now = Timestamp::from_unix_seconds(1_705_314_600).unwrap();
    for &event_type in EventType::ALL {
        let body = sample_event(event_type, &now, "zz9");
        let options = Options::default().reject_unknown_events().max_age(0, 1_705_314_600);
        let event = parse_event(body.as_bytes(), &options).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(event.event_type(), Some(event_type));
        assert!(body.contains("zz9"), "{event_type}: {body}");
        round_trips(body.as_bytes(), &event);
    }
    assert_ne!(
        sample_event(EventType::CallStarted, &now, "a"),
        sample_event(EventType::CallStarted, &now, "b")
    );
}

#[cfg(feature = "schema")] // the templates are public for xtask only
#[test]
fn a_sample_id_is_escaped_as_json_and_never_read_as_a_placeholder() {
    use threetone_webhooks::{SAMPLE_ID, SAMPLE_TIMESTAMP, sample_template};
    let now = Timestamp::from_unix_seconds(1_705_314_600).unwrap();
    let id = "q\"uote\\ @#$& é\n";
    for &event_type in EventType::ALL {
        let template = sample_template(event_type);
        assert_eq!(template.matches(SAMPLE_TIMESTAMP).count(), 1, "{event_type}: {template}");
        assert!(template.contains(SAMPLE_ID), "{event_type}: {template}");
        let body = sample_event(event_type, &now, id);
        let value: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(value["timestamp"], "2024-01-15T10:30:00Z", "{event_type}");
        if let Some(call_id) = value["data"].get("call_id") {
            assert_eq!(call_id.as_str(), Some(format!("call_{id}").as_str()), "{event_type}");
        }
    }
}

#[test]
fn timestamps_format_from_unix_seconds() {
    assert_eq!(Timestamp::from_unix_seconds(0).unwrap().as_str(), "1970-01-01T00:00:00Z");
    let leap_day = Timestamp::from_unix_seconds(1_709_164_800).unwrap();
    assert_eq!(leap_day.as_str(), "2024-02-29T00:00:00Z");
    assert_eq!(Timestamp::parse(leap_day.as_str()), Some(leap_day));
    assert_eq!(Timestamp::from_unix_seconds(i64::MAX), None);
    assert_eq!(Timestamp::from_unix_seconds(-62_167_219_201), None); // year -1
}

#[test]
fn call_id_is_found_in_every_event_that_names_a_call() {
    let now = Timestamp::from_unix_seconds(1_705_314_600).unwrap();
    let catalog = vectors("catalog.json");
    let listed = catalog["event_types"].as_array().unwrap();
    for (&event_type, listed) in EventType::ALL.iter().zip(listed) {
        let body = sample_event(event_type, &now, "q7");
        let event = parse_event(body.as_bytes(), &Options::default()).unwrap();
        let validated = validate_event(body.as_bytes(), &Options::default()).unwrap();
        // The call the sample names, as serde_json reads it.
        let sent: Value = serde_json::from_str(&body).unwrap();
        let call = sent["data"]["call_id"].as_str();
        assert_eq!(event.call_id(), call, "{event_type}");
        assert_eq!(validated.call_id(), call, "{event_type}");
        if call.is_some() {
            assert_eq!(call, Some("call_q7"), "{event_type}");
            assert_eq!(
                listed["call_id"], "call_id",
                "{event_type}: the payload's #[role(call_id)]"
            );
        }
    }
    let unknown = br#"{"event":"x","timestamp":"2024-01-15T10:30:00Z","data":{"call_id":"c9"}}"#;
    assert_eq!(parse_event(unknown, &Options::default()).unwrap().call_id(), Some("c9"));
}

/// A `conversation_ended` body whose `sentiment_score` is `literal`.
fn with_sentiment_score(literal: &str) -> Vec<u8> {
    let body = String::from_utf8(seed_payload("conversation_ended")).unwrap();
    let body = body.replace("\"sentiment_score\": 0.7", &format!("\"sentiment_score\": {literal}"));
    assert!(body.contains(literal));
    body.into_bytes()
}

#[test]
fn sentiment_scores_are_ranged_on_their_decimal_value_not_a_rounded_float() {
    let within = [
        "1",
        "-1",
        "0",
        "-0",
        "1.0",
        "-1.000",
        "1e0",
        "0.1e1",
        "10e-1",
        "100E-2",
        "1.0e+0",
        "0.99999999999999999999",
        "-0.0",
        "1e-400",
        "0.000000001e9",
        "0e999999999999999999999",
        "0.5",
        "-0.7",
    ];
    let beyond = [
        "1.00000000000000011",
        "-1.0000000000000000000000001e0",
        "2",
        "-2",
        "1.5",
        "10e-0",
        "0.0000000011e9",
        "1e1",
        "1.000000000000000000001",
        "1e99999999999999999999999",
    ];
    for literal in within.iter().chain(&beyond) {
        let body = with_sentiment_score(literal);
        let result = validate_event(&body, &Options::default());
        let expected = within.contains(literal);
        match result {
            Ok(_) => assert!(expected, "{literal} accepted"),
            Err(PayloadError::Invalid(invalid)) => {
                assert!(!expected, "{literal} rejected: {invalid}");
                assert_eq!(invalid.path, "$.data.sentiment_analysis.sentiment_score");
            }
            // A literal past f64::MAX is not JSON serde_json accepts.
            Err(error) => {
                assert_eq!((literal, error.code()), (&"1e99999999999999999999999", "invalid_json"))
            }
        }
    }
}

#[test]
fn error_messages_quote_at_most_64_characters_of_the_body() {
    let long = "y".repeat(100_000);
    let direction = String::from_utf8(seed_payload("call_started"))
        .unwrap()
        .replace("\"inbound\"", &format!("\"{long}\""));
    let timestamp = String::from_utf8(seed_payload("call_started"))
        .unwrap()
        .replace("2024-01-15T10:30:00Z", &long);
    let unknown = format!(r#"{{"event":"{long}","timestamp":"2024-01-15T10:30:00Z","data":{{}}}}"#);
    let options = Options::default().reject_unknown_events();
    for body in [direction, timestamp, unknown] {
        let message = validate_event(body.as_bytes(), &options).unwrap_err().to_string();
        assert!(message.len() < 300, "{} bytes: {}", message.len(), &message[..300]);
        assert!(
            message.contains(&format!("\"{}\"… (100000 characters)", "y".repeat(64))),
            "{message}"
        );
    }
    // Short text is quoted whole, escaped.
    let short = String::from_utf8(seed_payload("call_started"))
        .unwrap()
        .replace("\"inbound\"", r#""in\"bound""#);
    let message = validate_event(short.as_bytes(), &Options::default()).unwrap_err().to_string();
    assert!(message.ends_with(r#"found string "in\"bound""#), "{message}");
}

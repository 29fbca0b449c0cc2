//! Error codes against the generated catalog, the error record every
//! binding reports, and each error said once in a chain.

mod common;

use common::{str_field, vectors};
use threetone_webhooks::{
    Error, ErrorCode, ErrorRecord, Options, PayloadError, Verifier, VerifyError, validate_event,
};

#[test]
fn the_catalog_lists_every_code_with_its_status_and_meaning() {
    let catalog = vectors("catalog.json");
    let listed = catalog["error_codes"].as_array().unwrap();
    assert_eq!(listed.len(), ErrorCode::ALL.len());
    for (code, listed) in ErrorCode::ALL.iter().zip(listed) {
        assert_eq!(code.as_str(), str_field(listed, "code"));
        assert_eq!(u64::from(code.http_status()), listed["status"].as_u64().unwrap(), "{code}");
        assert_eq!(code.meaning(), str_field(listed, "meaning"), "{code}");
        assert_eq!(code.to_string(), code.as_str());
    }
    let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), ErrorCode::ALL.len(), "codes are unique");
}

/// One error of each variant, with the code it must have.
fn every_error() -> Vec<(Error, &'static str, u16)> {
    let invalid = validate_event(
        br#"{"event":"agent_busy","timestamp":"2024-01-15T10:30:00Z","data":{"queues":"q1"}}"#,
        &Options::default(),
    )
    .unwrap_err();
    vec![
        (VerifyError::MissingSignature.into(), "missing_signature", 401),
        (VerifyError::UnknownScheme.into(), "unknown_signature_scheme", 401),
        (VerifyError::InvalidLength { found: 3 }.into(), "invalid_signature_length", 401),
        (VerifyError::InvalidHex.into(), "invalid_signature_hex", 401),
        (VerifyError::Mismatch.into(), "signature_mismatch", 401),
        (VerifyError::EmptySecret.into(), "empty_secret", 503),
        (VerifyError::NoSecret.into(), "no_secret", 503),
        (PayloadError::InvalidJson { line: 1, column: 2 }.into(), "invalid_json", 400),
        (invalid.into(), "invalid_payload", 400),
        (PayloadError::UnknownEventType { event: "x".into() }.into(), "unknown_event_type", 400),
        (PayloadError::TooLarge { length: 10, max: 5 }.into(), "payload_too_large", 413),
        (PayloadError::OutOfMemory { length: 10 }.into(), "payload_too_large", 413),
        (
            PayloadError::TimestampTooOld { age_seconds: 9, max_age_seconds: 5 }.into(),
            "timestamp_too_old",
            400,
        ),
        (
            PayloadError::TimestampInFuture { ahead_seconds: 9, max_age_seconds: 5 }.into(),
            "timestamp_in_future",
            400,
        ),
    ]
}

#[test]
fn every_error_reports_its_code_status_and_record() {
    let mut seen = Vec::new();
    for (error, code, status) in every_error() {
        assert_eq!((error.code(), error.http_status()), (code, status), "{error}");
        assert_eq!(error.error_code().http_status(), status);
        let record = ErrorRecord::from(&error);
        assert_eq!((record.code.as_str(), record.status), (code, status));
        assert_eq!(record.message, error.to_string());
        let field = error.invalid_field();
        assert_eq!(record.path.as_ref(), field.map(|field| &field.path));
        assert_eq!(record.expected.as_ref(), field.map(|field| &field.expected));
        assert_eq!(record.found.as_ref(), field.map(|field| &field.found));
        assert_eq!(field.is_some(), code == "invalid_payload");
        seen.push(error.error_code());
    }
    // Every code of the table has an error.
    for code in ErrorCode::ALL {
        assert!(seen.contains(code), "no error has {code}");
    }
}

#[test]
fn the_record_serializes_as_the_error_answer() {
    let error = Error::from(VerifyError::Mismatch);
    let json = serde_json::to_value(ErrorRecord::from(&error)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "error": "signature_mismatch",
            "message": "signature does not match the body for any configured secret"
        })
    );
    let (invalid, ..) = every_error().swap_remove(8);
    let json = serde_json::to_value(ErrorRecord::from(invalid)).unwrap();
    assert_eq!(json["error"], "invalid_payload");
    assert_eq!(json["path"], "$.data.queues");
    assert_eq!(json["expected"], "an array of strings");
    assert_eq!(json["found"], "string \"q1\"");
    assert_eq!(json.as_object().unwrap().len(), 5, "{json}");
}

/// The messages of an error and of every source under it.
fn chain(error: &dyn core::error::Error) -> Vec<String> {
    let mut messages = vec![error.to_string()];
    let mut source = error.source();
    while let Some(inner) = source {
        messages.push(inner.to_string());
        source = inner.source();
    }
    messages
}

#[test]
fn a_chain_says_each_thing_once() {
    for (error, ..) in every_error() {
        let messages = chain(&error);
        // A wrapper prefixes the inner message or exposes it as the source, never both.
        assert_eq!(messages.len(), 1, "{messages:?}");
        if let Error::Payload(payload) = &error {
            assert_eq!(chain(payload), messages);
        }
    }
    let verifier = Verifier::new("k").unwrap();
    let error = verifier.construct_event(b"{}", &verifier.sign(b"{}"), &Options::default());
    let error = error.unwrap_err();
    assert_eq!(
        chain(&error),
        ["invalid payload at $.event: expected a string (a required field), found nothing"]
    );
}

//! Properties over arbitrary bodies, secrets and bit flips.

use proptest::prelude::*;
use threetone_webhooks::{Options, Verifier, VerifyError, parse_event};

fn secret() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..160)
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..2048)
}

proptest! {
    #[test]
    fn sign_then_verify_succeeds(secret in secret(), body in body()) {
        let verifier = Verifier::new(&secret).unwrap();
        let header = verifier.sign(&body);
        prop_assert_eq!(header.len(), 71);
        prop_assert_eq!(verifier.verify(&body, &header), Ok(()));
    }

    #[test]
    fn flipping_any_body_bit_fails(secret in secret(), body in prop::collection::vec(any::<u8>(), 1..2048), bit in any::<prop::sample::Index>()) {
        let verifier = Verifier::new(&secret).unwrap();
        let header = verifier.sign(&body);
        let mut tampered = body.clone();
        let bit = bit.index(tampered.len() * 8);
        tampered[bit / 8] ^= 1 << (bit % 8);
        prop_assert_eq!(verifier.verify(&tampered, &header), Err(VerifyError::Mismatch));
    }

    #[test]
    fn flipping_any_signature_bit_fails(secret in secret(), body in body(), bit in 0..256usize) {
        let verifier = Verifier::new(&secret).unwrap();
        let header = verifier.sign(&body);
        let mut digest: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&header[7 + 2 * i..9 + 2 * i], 16).unwrap())
            .collect();
        digest[bit / 8] ^= 1 << (bit % 8);
        let tampered: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        prop_assert_eq!(verifier.verify(&body, &format!("sha256={tampered}")), Err(VerifyError::Mismatch));
    }

    #[test]
    fn rotation_accepts_each_configured_secret_and_no_other(
        secrets in prop::collection::btree_set(secret(), 1..5),
        other in secret(),
        body in body(),
    ) {
        prop_assume!(!secrets.contains(&other));
        let verifier = Verifier::with_secrets(&secrets).unwrap();
        for secret in &secrets {
            let header = Verifier::new(secret).unwrap().sign(&body);
            prop_assert_eq!(verifier.verify(&body, &header), Ok(()));
        }
        let forged = Verifier::new(&other).unwrap().sign(&body);
        prop_assert_eq!(verifier.verify(&body, &forged), Err(VerifyError::Mismatch));
    }

    #[test]
    fn any_header_gives_a_result_not_a_panic(header in ".{0,100}", body in body()) {
        let verifier = Verifier::new("s").unwrap();
        let _ = verifier.verify(&body, &header);
    }

    #[test]
    fn any_body_gives_a_result_not_a_panic(body in body()) {
        let _ = parse_event(&body, &Options::default().max_age(300, 0));
    }
}

/// A JSON value of any type, to put where a field's value was.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{Value, json};
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-2.0..2.0f64).prop_map(Value::from),
        "[a-z_]{0,8}".prop_map(Value::from),
        Just(json!("inbound")),
        Just(json!("2024-01-15T10:30:00Z")),
        Just(json!(["a", "b"])),
        Just(json!([1])),
        Just(json!({ "overall_sentiment": "positive", "sentiment_score": 0.5 })),
        Just(json!({})),
    ]
}

/// A valid event of every type with one field, at the envelope or in `data`,
/// replaced, added or removed.
fn mutated_event() -> impl Strategy<Value = Vec<u8>> {
    use threetone_webhooks::{EventType, Timestamp, sample_event};
    let event_type = prop::sample::select(EventType::ALL.to_vec());
    (event_type, any::<bool>(), any::<prop::sample::Index>(), any_json(), 0..3u8).prop_map(
        |(event_type, in_data, index, value, operation)| {
            let now = Timestamp::from_unix_seconds(1_705_314_600).unwrap();
            let body = sample_event(event_type, &now, "p1");
            let mut event: serde_json::Value = serde_json::from_str(&body).unwrap();
            let object = if in_data { &mut event["data"] } else { &mut event };
            let object = object.as_object_mut().unwrap();
            let keys: Vec<String> = object.keys().cloned().collect();
            let key = keys[index.index(keys.len())].clone();
            match operation {
                0 => object.insert(key, value),
                1 => object.insert("added".into(), value),
                _ => object.remove(&key),
            };
            serde_json::to_vec(&event).unwrap()
        },
    )
}

proptest! {
    /// The one-pass validator and the typed parse accept the same bodies,
    /// reject them with the same error, and read the same envelope.
    #[test]
    fn validate_event_and_parse_event_agree(body in mutated_event()) {
        use threetone_webhooks::validate_event;
        let options = Options::default();
        match (validate_event(&body, &options), parse_event(&body, &options)) {
            (Ok(valid), Ok(event)) => {
                prop_assert_eq!(valid.event_name(), event.event_name());
                prop_assert_eq!(valid.event_type(), event.event_type());
                prop_assert_eq!(valid.timestamp(), &event.timestamp);
                prop_assert_eq!(valid.call_id(), event.call_id());
            }
            (Err(invalid), Err(error)) => prop_assert_eq!(invalid, error),
            (validated, parsed) => prop_assert!(
                false,
                "disagree on {}: {validated:?} vs {parsed:?}",
                String::from_utf8_lossy(&body)
            ),
        }
    }
}

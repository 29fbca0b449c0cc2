//! Signatures against vectors made by Python's hmac, every header error, rotation.

mod common;

use common::{hex, str_field, vectors};
use threetone_webhooks::{SIGNATURE_HEADER, Verifier, VerifyError};

#[test]
fn signs_and_verifies_every_known_answer_vector() {
    let document = vectors("signatures.json");
    let cases = document["vectors"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for case in cases {
        let name = str_field(case, "name");
        let secret = hex(str_field(case, "secret_hex"));
        let body = hex(str_field(case, "body_hex"));
        let expected = str_field(case, "signature");
        let verifier = Verifier::new(&secret).unwrap();
        assert_eq!(verifier.sign(&body), expected, "{name}");
        assert_eq!(verifier.verify(&body, expected), Ok(()), "{name}");
        assert_eq!(
            verifier.verify(&body, &expected.to_uppercase().replace("SHA256=", "sha256=")),
            Ok(()),
            "{name}"
        );
        let mut other_body = body.clone();
        other_body.push(b' ');
        assert_eq!(verifier.verify(&other_body, expected), Err(VerifyError::Mismatch), "{name}");
    }
}

#[test]
fn every_header_case_gives_its_code() {
    let document = vectors("signature-headers.json");
    let verifier = Verifier::new(str_field(&document, "secret")).unwrap();
    let body = str_field(&document, "body").as_bytes();
    for case in document["cases"].as_array().unwrap() {
        let name = str_field(case, "name");
        let result = verifier.verify(body, str_field(case, "header"));
        match case["code"].as_str() {
            None => assert_eq!(result, Ok(()), "{name}"),
            Some(code) => assert_eq!(result.map_err(|e| e.code()), Err(code), "{name}"),
        }
    }
}

#[test]
fn length_error_says_how_many_digits_were_found() {
    let verifier = Verifier::new("s").unwrap();
    assert_eq!(verifier.verify(b"", "sha256=abc"), Err(VerifyError::InvalidLength { found: 3 }));
}

#[test]
fn secrets_must_be_present_and_non_empty() {
    assert_eq!(Verifier::new("").unwrap_err().code(), "empty_secret");
    assert_eq!(Verifier::new(b"").unwrap_err(), VerifyError::EmptySecret);
    assert_eq!(Verifier::with_secrets(["current", ""]).unwrap_err(), VerifyError::EmptySecret);
    assert_eq!(Verifier::with_secrets(Vec::<&str>::new()).unwrap_err().code(), "no_secret");
}

#[test]
fn rotation_accepts_each_configured_secret_and_signs_with_the_first() {
    let verifier = Verifier::with_secrets(["new", "old", "older"]).unwrap();
    assert_eq!(verifier.secret_count(), 3);
    let body = br#"{"event":"call_started"}"#;
    for secret in ["new", "old", "older"] {
        let header = Verifier::new(secret).unwrap().sign(body);
        assert_eq!(verifier.verify(body, &header), Ok(()), "{secret}");
    }
    let forged = Verifier::new("attacker").unwrap().sign(body);
    assert_eq!(verifier.verify(body, &forged), Err(VerifyError::Mismatch));
    assert_eq!(verifier.sign(body), Verifier::new("new").unwrap().sign(body));
}

#[test]
fn http_statuses_fail_closed_without_a_secret() {
    assert_eq!(VerifyError::Mismatch.http_status(), 401);
    assert_eq!(VerifyError::MissingSignature.http_status(), 401);
    assert_eq!(VerifyError::NoSecret.http_status(), 503);
    assert_eq!(VerifyError::EmptySecret.http_status(), 503);
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let secret = "whsec_do_not_print_me";
    let verifier = Verifier::new(secret).unwrap();
    assert!(!format!("{verifier:?}").contains(secret));
    let error = verifier.verify(b"body", "sha256=00").unwrap_err();
    assert!(!format!("{error} {error:?}").contains(secret));
}

#[test]
fn header_name_is_the_documented_one() {
    assert_eq!(SIGNATURE_HEADER, "X-ThreeTone-Signature");
}

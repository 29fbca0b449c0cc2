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

//! `Verifier::verify` on an arbitrary secret, body and header.
//!
//! Input layout (what `fuzz/make_corpus.py` writes):
//!
//! | bytes    | meaning                                                       |
//! |----------|---------------------------------------------------------------|
//! | 1        | secret length `s`                                             |
//! | `s`      | secret                                                        |
//! | 1        | header length `h`                                             |
//! | `h`      | header (invalid UTF-8 replaced by U+FFFD)                     |
//! | 2        | which body byte to change (little endian, modulo body length) |
//! | 1        | XOR mask for that byte (0 stands for 1: the byte must change) |
//! | the rest | body                                                          |
//!
//! Properties: nothing panics; an empty secret, and only that, is refused;
//! a header is accepted exactly when it carries the body's digest; the header
//! `sign(body)` is accepted; changing one byte of the body makes it rejected.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threetone_webhooks::{Verifier, VerifyError, parse_header};

/// One fuzz input, split according to the layout above.
struct Input<'a> {
    secret: &'a [u8],
    header: String,
    tamper_position: usize,
    tamper_mask: u8,
    body: &'a [u8],
}

impl<'a> Input<'a> {
    /// Splits `data`; `None` if it is too short for the layout.
    fn split(data: &'a [u8]) -> Option<Self> {
        let (secret, rest) = length_prefixed(data)?;
        let (header, rest) = length_prefixed(rest)?;
        let ([low, high, mask], body) = rest.split_first_chunk::<3>()?;
        Some(Self {
            secret,
            header: String::from_utf8_lossy(header).into_owned(),
            tamper_position: usize::from(u16::from_le_bytes([*low, *high])),
            tamper_mask: (*mask).max(1),
            body,
        })
    }

    /// The body with one byte changed; `None` for an empty body.
    fn tampered_body(&self) -> Option<Vec<u8>> {
        if self.body.is_empty() {
            return None;
        }
        let mut body = self.body.to_vec();
        body[self.tamper_position % self.body.len()] ^= self.tamper_mask;
        Some(body)
    }
}

/// Splits off a field preceded by its one-byte length.
fn length_prefixed(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&length, rest) = data.split_first()?;
    let length = usize::from(length);
    (rest.len() >= length).then(|| rest.split_at(length))
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::split(data) else { return };
    let verifier = match Verifier::new(input.secret) {
        Ok(verifier) => verifier,
        Err(error) => {
            assert!(input.secret.is_empty(), "refused a non-empty secret: {error:?}");
            assert_eq!(error, VerifyError::EmptySecret);
            return;
        }
    };
    let signed = verifier.sign(input.body);

    let accepted = verifier.verify(input.body, &input.header).is_ok();
    let carries_digest = parse_header(&input.header) == parse_header(&signed);
    assert_eq!(accepted, carries_digest, "header {:?}, signature {signed}", input.header);

    assert_eq!(verifier.verify(input.body, &signed), Ok(()));
    if let Some(tampered) = input.tampered_body() {
        assert_eq!(verifier.verify(&tampered, &signed), Err(VerifyError::Mismatch));
    }
});

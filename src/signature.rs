//! HMAC-SHA256 signatures: `X-ThreeTone-Signature: sha256=<hex>`.
//!
//! The signature covers the raw body bytes exactly as received. The HMAC key
//! state (inner and outer padded blocks) is computed once per secret when the
//! [`Verifier`] is built and cloned for each call, so a call costs only the
//! hashing of the body.
//!
//! ```
//! use threetone_webhooks::Verifier;
//!
//! let verifier = Verifier::new("It's a Secret to Everybody")?;
//! let header = verifier.sign(b"Hello, World!");
//! assert_eq!(
//!     header,
//!     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
//! );
//! verifier.verify(b"Hello, World!", &header)?;
//! # Ok::<(), threetone_webhooks::VerifyError>(())
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use crate::error::VerifyError;

/// Name of the HTTP header that carries the signature (case-insensitive on the wire).
pub const SIGNATURE_HEADER: &str = "X-ThreeTone-Signature";

/// The scheme prefix of the header value.
const SCHEME: &str = "sha256";

/// Length of an HMAC-SHA256 digest in bytes.
const DIGEST_LEN: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// Signs and verifies bodies with one secret or several (during rotation).
///
/// Verification succeeds if any configured secret matches; every secret is
/// always tried, so the time taken does not depend on which one matched.
/// [`sign`](Self::sign) uses the first secret.
#[derive(Clone)]
pub struct Verifier {
    /// One prepared HMAC state per secret; never empty.
    keys: Vec<HmacSha256>,
}

impl Verifier {
    /// A verifier for one secret.
    ///
    /// # Errors
    /// [`VerifyError::EmptySecret`] if the secret is empty.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, VerifyError> {
        Self::with_secrets([secret])
    }

    /// A verifier for several secrets: the current one first, then older ones
    /// still accepted while senders move to the new one.
    ///
    /// # Errors
    /// [`VerifyError::NoSecret`] if there are none, [`VerifyError::EmptySecret`]
    /// if one is empty.
    pub fn with_secrets<S: AsRef<[u8]>>(
        secrets: impl IntoIterator<Item = S>,
    ) -> Result<Self, VerifyError> {
        let keys = secrets
            .into_iter()
            .map(|secret| prepare_key(secret.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(VerifyError::NoSecret);
        }
        Ok(Self { keys })
    }

    /// Number of configured secrets.
    pub fn secret_count(&self) -> usize {
        self.keys.len()
    }

    /// The header value for `body` under the first secret: `sha256=<64 lowercase hex>`.
    pub fn sign(&self, body: &[u8]) -> String {
        let digest = mac(&self.keys[0], body);
        let mut header = String::with_capacity(SCHEME.len() + 1 + 2 * DIGEST_LEN);
        header.push_str(SCHEME);
        header.push('=');
        header.push_str(&base16ct::lower::encode_string(&digest));
        header
    }

    /// Checks `header` (the value of [`SIGNATURE_HEADER`]) against the raw `body`.
    ///
    /// Surrounding whitespace is ignored and the hex digits may be in either
    /// case. The comparison is constant time.
    ///
    /// # Errors
    /// A [`VerifyError`] saying what is wrong with the header, or
    /// [`VerifyError::Mismatch`] if it is well formed but does not match.
    pub fn verify(&self, body: &[u8], header: &str) -> Result<(), VerifyError> {
        any_match(header, self.keys.iter().map(|key| mac(key, body)))
    }

    /// Checks `header` against HMAC-SHA256 digests of the body computed
    /// elsewhere (by a runtime's native HMAC, say), one per secret in this
    /// verifier's order: the same rule as [`verify`](Self::verify), which
    /// computes them itself (the header parsed first, then a constant-time
    /// comparison with every digest, valid if any matches).
    ///
    /// ```
    /// use hmac::{Hmac, KeyInit, Mac};
    /// use threetone_webhooks::Verifier;
    ///
    /// let verifier = Verifier::with_secrets(["new", "old"])?;
    /// let digest = |secret: &[u8]| -> [u8; 32] {
    ///     let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    ///     mac.update(b"body");
    ///     mac.finalize().into_bytes().into()
    /// };
    /// let header = Verifier::new("old")?.sign(b"body");
    /// verifier.verify_digests(&header, &[digest(b"new"), digest(b"old")])?;
    /// assert!(verifier.verify_digests(&header, &[digest(b"new"), digest(b"other")]).is_err());
    /// # Ok::<(), threetone_webhooks::VerifyError>(())
    /// ```
    ///
    /// # Errors
    /// As for [`verify`](Self::verify); digests of another number than the
    /// secrets' never match ([`VerifyError::Mismatch`]).
    pub fn verify_digests(
        &self,
        header: &str,
        digests: &[[u8; DIGEST_LEN]],
    ) -> Result<(), VerifyError> {
        let counted = digests.len() == self.keys.len();
        match any_match(header, digests.iter().copied()) {
            Ok(()) if !counted => Err(VerifyError::Mismatch),
            result => result,
        }
    }
}

/// The one rule of both [`Verifier::verify`] and [`Verifier::verify_digests`]:
/// the header parsed, then compared in constant time with every digest (each
/// computed only after the header parsed), valid if any matches.
fn any_match(
    header: &str,
    digests: impl Iterator<Item = [u8; DIGEST_LEN]>,
) -> Result<(), VerifyError> {
    let expected = parse_header(header)?;
    let matched =
        digests.fold(Choice::from(0), |matched, digest| matched | digest.ct_eq(&expected));
    if bool::from(matched) { Ok(()) } else { Err(VerifyError::Mismatch) }
}

impl fmt::Debug for Verifier {
    // Never print key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier").field("secrets", &self.keys.len()).finish_non_exhaustive()
    }
}

/// Parses a signature header value into the digest it carries.
///
/// ```
/// use threetone_webhooks::{parse_header, VerifyError};
///
/// let digest = parse_header(&format!("  sha256={}\n", "AB".repeat(32)))?;
/// assert_eq!(digest, [0xab; 32]);
/// assert_eq!(parse_header("sha1=00"), Err(VerifyError::UnknownScheme));
/// # Ok::<(), VerifyError>(())
/// ```
///
/// # Errors
/// The [`VerifyError`] naming what is wrong: missing, unknown scheme, wrong
/// length or not hex.
pub fn parse_header(header: &str) -> Result<[u8; DIGEST_LEN], VerifyError> {
    let header = header.trim();
    if header.is_empty() {
        return Err(VerifyError::MissingSignature);
    }
    let hex = match header.split_once('=') {
        Some((SCHEME, hex)) => hex,
        _ => return Err(VerifyError::UnknownScheme),
    };
    if hex.len() != 2 * DIGEST_LEN {
        return Err(VerifyError::InvalidLength { found: hex.len() });
    }
    let mut digest = [0u8; DIGEST_LEN];
    base16ct::mixed::decode(hex, &mut digest).map_err(|_| VerifyError::InvalidHex)?;
    Ok(digest)
}

fn prepare_key(secret: &[u8]) -> Result<HmacSha256, VerifyError> {
    if secret.is_empty() {
        return Err(VerifyError::EmptySecret);
    }
    // HMAC accepts keys of any length, so this cannot fail for a non-empty key;
    // map the error anyway rather than panic.
    HmacSha256::new_from_slice(secret).map_err(|_| VerifyError::EmptySecret)
}

fn mac(key: &HmacSha256, body: &[u8]) -> [u8; DIGEST_LEN] {
    let mut mac = key.clone();
    mac.update(body);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use alloc::format;

    use super::*;

    /// Digests computed outside the verifier get `verify`'s answer for every
    /// kind of header, with one secret and with several.
    #[test]
    fn verify_digests_answers_as_verify() {
        let body = b"{\"event\":\"call_started\"}";
        for secrets in [&["only"][..], &["new", "old", "older"][..]] {
            let verifier = Verifier::with_secrets(secrets).unwrap();
            let digests: Vec<[u8; DIGEST_LEN]> = secrets
                .iter()
                .map(|secret| mac(&prepare_key(secret.as_bytes()).unwrap(), body))
                .collect();
            let mut headers: Vec<String> =
                secrets.iter().map(|secret| Verifier::new(secret).unwrap().sign(body)).collect();
            let upper = headers[0].to_uppercase().replacen("SHA256", "sha256", 1);
            headers.extend([
                Verifier::new("other").unwrap().sign(body),
                format!("  {upper}\n"),
                String::new(),
                "sha1=00".into(),
                "sha256=00".into(),
                format!("sha256={}", "zz".repeat(32)),
            ]);
            for header in &headers {
                assert_eq!(
                    verifier.verify_digests(header, &digests),
                    verifier.verify(body, header),
                    "{header}"
                );
            }
            // Another number of digests than of secrets never verifies.
            let valid = &headers[0];
            assert_eq!(verifier.verify_digests(valid, &[]), Err(VerifyError::Mismatch));
            let more = [digests.as_slice(), &[digests[0]]].concat();
            assert_eq!(verifier.verify_digests(valid, &more), Err(VerifyError::Mismatch));
            if secrets.len() > 1 {
                assert_eq!(
                    verifier.verify_digests(valid, &digests[..1]),
                    Err(VerifyError::Mismatch)
                );
            }
            // The header's own errors come first, as in verify.
            assert_eq!(verifier.verify_digests("sha1=00", &[]), Err(VerifyError::UnknownScheme));
        }
    }
}

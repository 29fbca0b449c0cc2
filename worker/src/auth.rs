//! The admin endpoints' bearer token check: plain functions (covered by
//! `cargo test`).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Whether an `Authorization` header value carries `token` with the
/// `Bearer` scheme (in any case, RFC 7235). The comparison is of SHA-256
/// digests in constant time, so neither the token's bytes nor its length
/// show in the time it takes.
pub fn bearer_matches(authorization: &str, token: &str) -> bool {
    let Some((scheme, presented)) = authorization.trim().split_once(' ') else {
        return false;
    };
    let presented = presented.trim();
    let digest = |text: &str| Sha256::digest(text.as_bytes());
    let same = digest(presented).ct_eq(&digest(token));
    scheme.eq_ignore_ascii_case("bearer") && bool::from(same)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        for header in
            [format!("Bearer {TOKEN}"), format!("bearer {TOKEN}"), format!("BEARER  {TOKEN} ")]
        {
            assert!(bearer_matches(&header, TOKEN), "{header}");
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for header in [
            String::new(),
            TOKEN.to_string(),
            format!("Basic {TOKEN}"),
            format!("Bearer {TOKEN}x"),
            format!("Bearer {}", &TOKEN[1..]),
            "Bearer ".to_string(),
            format!("Bearer{TOKEN}"),
        ] {
            assert!(!bearer_matches(&header, TOKEN), "{header}");
        }
    }
}

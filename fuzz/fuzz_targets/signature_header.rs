//! `parse_header` on arbitrary text (invalid UTF-8 replaced by U+FFFD).
//!
//! It must never panic, and a digest it accepts must parse back unchanged when
//! re-encoded as `sha256=<hex>`, in lowercase and in uppercase.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threetone_webhooks::parse_header;

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    if let Ok(digest) = parse_header(&header) {
        let lower = format!("sha256={}", hex(&digest));
        assert_eq!(parse_header(&lower), Ok(digest), "{header:?}");
        let upper = format!("sha256={}", hex(&digest).to_uppercase());
        assert_eq!(parse_header(&upper), Ok(digest), "{header:?}");
    }
});

/// Lowercase hex, written independently of the crate's encoder.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

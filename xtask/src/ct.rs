//! `cargo xtask ct`: the dudect timing test of `Verifier::verify` (`ct/`).
//!
//! On demand, not in CI: it takes a minute or two and its verdict is only
//! meaningful on an otherwise idle machine. It fails if `verify` takes
//! measurably different times for signatures wrong in the first and in the
//! last byte, or if the deliberately leaky control shows no difference.

use crate::command::cargo;

/// Builds `ct/` (its own workspace, into `target/ct`) and runs it.
pub fn run() -> Result<(), String> {
    cargo(&["run", "--release", "--manifest-path", "ct/Cargo.toml", "--target-dir", "target/ct"])
}

//! Values as the Durable Objects' SQLite storage takes them.

use worker::SqlStorageValue;

/// A count or a time in ms, as SQLite's integer (saturated at `i64::MAX`).
pub fn integer(value: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(i64::try_from(value).unwrap_or(i64::MAX))
}

/// An alarm time `after_ms` after `now`, as the runtime expects (ms since epoch).
pub fn alarm_at(now: u64, after_ms: u64) -> i64 {
    i64::try_from(now.saturating_add(after_ms)).unwrap_or(i64::MAX)
}

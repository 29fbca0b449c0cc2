//! Values as the Durable Objects' SQLite storage takes them.

use worker::SqlStorageValue;

/// A count or a time in ms, as SQLite's integer (saturated at `i64::MAX`).
pub fn integer(value: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(i64::try_from(value).unwrap_or(i64::MAX))
}

/// An alarm `after_ms` from now. (workers-rs reads a bare number as an
/// offset from now, not as a time: an absolute time there sets the alarm
/// decades away.)
pub fn alarm_in(after_ms: u64) -> std::time::Duration {
    std::time::Duration::from_millis(after_ms)
}

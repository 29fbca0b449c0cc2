//! Delivery logs: the most recent outcomes of authentic requests, in the shape
//! of ThreeTone's own delivery logs (`timestamp`, `event`, `status`,
//! `response_code`, `delivery_time_ms`, `retry_count`, `error`). Never a body
//! or a secret. Each idempotency shard keeps the log of its own events, so
//! an entry is written in the same call that settles the event's key.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use threetone_webhooks::Timestamp;
use worker::{Date, Env, Result, SqlStorage};

use crate::idempotency::{self, integer};

/// How many deliveries are shown, and kept per shard.
pub const CAPACITY: usize = 100;

/// The most bytes of an event name or call id a log keeps: they come from
/// the body, which may hold anything.
const MAX_LOGGED_TEXT: usize = 128;

/// `text` cut to [`MAX_LOGGED_TEXT`] bytes (at a character boundary).
pub fn clip(text: &str) -> &str {
    let mut end = text.len().min(MAX_LOGGED_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// One delivery, as `/logs` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// When the edge answered (RFC 3339).
    pub timestamp: String,
    /// Event type.
    pub event: String,
    /// `success`, `failed`, `duplicate`, `ignored`, `rejected`, `queued`,
    /// `retrying` or `dead_lettered`.
    pub status: String,
    /// Status the edge answered with.
    pub response_code: u16,
    /// Time spent at the edge.
    pub delivery_time_ms: u64,
    /// Earlier deliveries of the same event seen by the edge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_count: Option<u32>,
    /// What went wrong, for failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Status the origin answered with, when it was reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_status: Option<u16>,
    /// The call the event concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The edge's request id (also sent to the origin as `X-Request-Id`).
    pub request_id: String,
}

impl Delivery {
    /// A delivery answered `response_code`, started at `started_ms` (ms since epoch).
    pub fn new(
        started_ms: u64,
        event: &str,
        call_id: Option<&str>,
        request_id: &str,
        status: &str,
        response_code: u16,
    ) -> Self {
        let now = Date::now().as_millis();
        Self {
            timestamp: Timestamp::from_unix_seconds((now / 1000) as i64)
                .map(|timestamp| timestamp.to_string())
                .unwrap_or_default(),
            event: clip(event).into(),
            status: status.into(),
            response_code,
            delivery_time_ms: now.saturating_sub(started_ms),
            retry_count: None,
            error: None,
            origin_status: None,
            call_id: call_id.map(|call_id| clip(call_id).into()),
            request_id: request_id.into(),
        }
    }

    /// With the number of earlier deliveries of the same event.
    pub fn with_retry_count(self, retry_count: Option<u32>) -> Self {
        Self { retry_count, ..self }
    }

    /// With what went wrong.
    pub fn with_error(self, error: Option<String>) -> Self {
        Self { error, ..self }
    }

    /// With the origin's status, when it was reached.
    pub fn with_origin_status(self, origin_status: Option<u16>) -> Self {
        Self { origin_status, ..self }
    }
}

/// A delivery as a shard keeps it: when it was logged, and the entry (a
/// [`Delivery`] as JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Logged {
    pub at_ms: u64,
    pub entry: String,
}

/// Creates the log table of a shard (see [`idempotency`](crate::idempotency)).
pub fn create_table(sql: &SqlStorage) {
    // Errors here surface on the first query instead.
    let _ = sql.exec(
        "CREATE TABLE IF NOT EXISTS delivery_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, \
         at_ms INTEGER NOT NULL, entry TEXT NOT NULL)",
        None,
    );
}

/// How many appends a shard makes between two trims of its log: a trim is a
/// statement of its own, and [`list`] reads only the last [`CAPACITY`] anyway.
const TRIM_EVERY: u64 = 32;

/// Appends an entry (a [`Delivery`] as JSON) to a shard's log; every
/// [`TRIM_EVERY`] appends, drops what fell off its end.
pub fn append(sql: &SqlStorage, now: u64, entry: String) -> Result<()> {
    #[derive(Deserialize)]
    struct Appended {
        seq: u64,
    }
    let Appended { seq } = sql
        .exec(
            "INSERT INTO delivery_log (at_ms, entry) VALUES (?, ?) RETURNING seq",
            vec![integer(now), entry.into()],
        )?
        .one()?;
    if seq % TRIM_EVERY == 0 {
        sql.exec(
            "DELETE FROM delivery_log WHERE seq <= ?",
            vec![integer(seq.saturating_sub(CAPACITY as u64))],
        )?;
    }
    Ok(())
}

/// A shard's log, newest first.
pub fn list(sql: &SqlStorage) -> Result<Vec<Logged>> {
    sql.exec(
        "SELECT at_ms, entry FROM delivery_log ORDER BY seq DESC LIMIT ?",
        vec![integer(CAPACITY as u64)],
    )?
    .to_array()
}

/// The most recent deliveries of all shards, newest first, as the JSON they
/// were written as. Each shard keeps its own last [`CAPACITY`], so the newest
/// [`CAPACITY`] overall are among them.
pub async fn recent(env: &Env) -> Result<Vec<Box<RawValue>>> {
    let mut logged = idempotency::logs(env).await?;
    logged.sort_unstable_by_key(|logged| std::cmp::Reverse(logged.at_ms));
    Ok(logged
        .into_iter()
        .take(CAPACITY)
        .filter_map(|logged| RawValue::from_string(logged.entry).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn logged_text_is_clipped_at_a_character_boundary() {
        assert_eq!(clip("call_started"), "call_started");
        let long = "é".repeat(100); // 200 bytes
        assert_eq!(clip(&long), "é".repeat(64));
        assert_eq!(clip(&"x".repeat(1000)).len(), 128);
    }
}

//! Delivery logs: the most recent outcomes of authentic requests, in the shape
//! of ThreeTone's own delivery logs (`timestamp`, `event`, `status`,
//! `response_code`, `delivery_time_ms`, `retry_count`, `error`), plus the
//! route and the destination. Never a body or a secret.
//!
//! Each destination's object keeps the log of its deliveries (an entry is
//! written in the same call that settles the delivery); each route's log
//! object keeps the events that reached no destination (ignored, rejected).
//! `/logs` merges them.

use serde::{Deserialize, Serialize};
use threetone_webhooks::Timestamp;
use worker::{Result, SqlStorage};

use crate::sql::integer;

/// How many deliveries are shown, and kept per object.
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

/// One delivery (or refusal), as `/logs` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    /// When the edge answered (RFC 3339).
    pub timestamp: String,
    /// Event type.
    pub event: String,
    /// `success`, `failed`, `held`, `duplicate`, `ignored`, `rejected`,
    /// `queued`, `retrying` or `dead_lettered`.
    pub status: String,
    /// Status the edge answered with for this destination.
    pub response_code: u16,
    /// Time spent at the edge.
    pub delivery_time_ms: u64,
    /// Earlier deliveries of the same event to the same destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_count: Option<u32>,
    /// What went wrong, for failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Status the destination answered with, when it was reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_status: Option<u16>,
    /// The call the event concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The edge's request id (also sent along as `X-Request-Id`).
    pub request_id: String,
    /// The route the event came in by.
    pub route: String,
    /// The destination, for a delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// The delivery's `X-ThreeTone-Delivery-Id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
    /// Where the archive keeps the body, if the Worker has one (`GET /archive/<key>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_key: Option<String>,
}

/// What a log entry says about its event.
pub struct Logged<'a> {
    pub event: &'a str,
    pub call_id: Option<&'a str>,
    pub request_id: &'a str,
    pub route: &'a str,
}

impl LogEntry {
    /// An entry answered `response_code` at `now_ms`, for a request that started at `started_ms`.
    pub fn new(
        logged: &Logged<'_>,
        status: &str,
        response_code: u16,
        started_ms: u64,
        now_ms: u64,
    ) -> Self {
        Self {
            timestamp: Timestamp::from_unix_seconds((now_ms / 1000) as i64)
                .map(|timestamp| timestamp.to_string())
                .unwrap_or_default(),
            event: clip(logged.event).into(),
            status: status.into(),
            response_code,
            delivery_time_ms: now_ms.saturating_sub(started_ms),
            retry_count: None,
            error: None,
            origin_status: None,
            call_id: logged.call_id.map(|call_id| clip(call_id).into()),
            request_id: logged.request_id.into(),
            route: logged.route.into(),
            destination: None,
            delivery_id: None,
            archive_key: None,
        }
    }
}

/// An entry as an object keeps it: when it was logged, and the entry as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kept {
    pub at_ms: u64,
    pub entry: String,
}

/// Creates an object's log table.
pub fn create_table(sql: &SqlStorage) {
    // Errors here surface on the first query instead.
    let _ = sql.exec(
        "CREATE TABLE IF NOT EXISTS delivery_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, \
         at_ms INTEGER NOT NULL, entry TEXT NOT NULL)",
        None,
    );
}

/// How many appends an object makes between two trims of its log: a trim is
/// a statement of its own, and [`list`] reads only the last [`CAPACITY`] anyway.
const TRIM_EVERY: u64 = 32;

/// Appends an entry (a [`LogEntry`] as JSON) to an object's log; every
/// [`TRIM_EVERY`] appends, drops what fell off its end.
pub fn append(sql: &SqlStorage, now: u64, entry: &str) -> Result<()> {
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

/// An object's log, newest first.
pub fn list(sql: &SqlStorage) -> Result<Vec<Kept>> {
    sql.exec(
        "SELECT at_ms, entry FROM delivery_log ORDER BY seq DESC LIMIT ?",
        vec![integer(CAPACITY as u64)],
    )?
    .to_array()
}

/// The newest [`CAPACITY`] of several objects' logs, newest first, as the
/// JSON they were written as. Each object keeps its own last [`CAPACITY`],
/// so the newest overall are among them.
pub fn newest(mut kept: Vec<Kept>) -> Vec<Box<serde_json::value::RawValue>> {
    kept.sort_unstable_by_key(|kept| std::cmp::Reverse(kept.at_ms));
    kept.into_iter()
        .take(CAPACITY)
        .filter_map(|kept| serde_json::value::RawValue::from_string(kept.entry).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_text_is_clipped_at_a_character_boundary() {
        assert_eq!(clip("call_started"), "call_started");
        let long = "é".repeat(100); // 200 bytes
        assert_eq!(clip(&long), "é".repeat(64));
        assert_eq!(clip(&"x".repeat(1000)).len(), 128);
    }

    #[test]
    fn the_newest_entries_of_all_logs_come_first() {
        let kept = |at_ms, n: u32| Kept { at_ms, entry: n.to_string() };
        let mut all: Vec<Kept> = (0..150).map(|n| kept(u64::from(n) * 10, n)).collect();
        all.push(kept(5, 1000));
        let newest = newest(all);
        assert_eq!(newest.len(), CAPACITY);
        assert_eq!(newest[0].get(), "149");
        assert_eq!(newest[99].get(), "50");
    }
}

//! What the archive keeps about an event, and which archived events a
//! replay selects. Plain data and functions (covered by `cargo test`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use threetone_webhooks::Timestamp;

/// Where archived events live: `events/<event time, 13 digits of ms>/<body digest>`,
/// so a listing comes in time order and a redelivery finds its own object.
pub const PREFIX: &str = "events/";

/// The archive key of an event.
pub fn key(timestamp_ms: u64, digest: &str) -> String {
    format!("{PREFIX}{timestamp_ms:013}/{digest}")
}

/// The event time in an archive key.
pub fn timestamp_of(key: &str) -> Option<u64> {
    key.strip_prefix(PREFIX)?.split('/').next()?.parse().ok()
}

/// An archived event's facts, kept beside its exact body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Archived {
    pub route: String,
    pub event: String,
    pub call_id: Option<String>,
    /// The verified signature header and media type, as received.
    pub signature: String,
    pub content_type: String,
    /// When the edge last received it.
    pub received_ms: u64,
    /// Each destination's result: `delivered`, `failed`, `held`, `queued`,
    /// `rejected`, `dead_lettered`.
    pub results: BTreeMap<String, String>,
}

/// A destination's result as the archive keeps it, from its delivery-log
/// status; `None` for a status that changes nothing (a duplicate means the
/// destination already had it).
pub fn result_of(status: &str) -> Option<&'static str> {
    Some(match status {
        "success" => "delivered",
        "duplicate" => return None,
        "queued" => "queued",
        "held" => "held",
        "rejected" => "rejected",
        "dead_lettered" => "dead_lettered",
        "retrying" | "failed" => "failed",
        _ => return None,
    })
}

/// Merges newer results into `older`: a destination that has the event keeps
/// `delivered`; otherwise the newer result wins.
pub fn merge(
    older: &mut BTreeMap<String, String>,
    newer: impl IntoIterator<Item = (String, &'static str)>,
) {
    for (destination, result) in newer {
        if older.get(&destination).is_none_or(|kept| kept != "delivered") {
            older.insert(destination, result.to_string());
        }
    }
}

/// The body of `POST /replay`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// RFC 3339; the event's time. Default: the beginning.
    pub from: Option<String>,
    /// RFC 3339, inclusive. Default: now.
    pub to: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub destinations: Option<Vec<String>>,
    /// Destinations' results to select (`failed`, `dead_lettered`, ...);
    /// default: any.
    pub results: Option<Vec<String>>,
    /// Count only. Default: true, so that a replay is always asked for twice.
    pub dry_run: Option<bool>,
}

/// A replay's selection, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    pub from_ms: u64,
    pub to_ms: u64,
    pub event_types: Option<Vec<String>>,
    pub destinations: Option<Vec<String>>,
    pub results: Option<Vec<String>>,
}

impl ReplayRequest {
    /// The selection, or what is wrong with the request.
    pub fn selection(&self, now_ms: u64) -> Result<Selection, String> {
        let time = |field: &str, text: &Option<String>, default: u64| match text {
            None => Ok(default),
            Some(text) => Timestamp::parse(text.as_str())
                .and_then(|timestamp| u64::try_from(timestamp.unix_seconds()).ok())
                .map(|seconds| seconds * 1000)
                .ok_or(format!("{field} must be an RFC 3339 time such as 2024-01-15T10:30:00Z")),
        };
        let from_ms = time("from", &self.from, 0)?;
        let to_ms = time("to", &self.to, now_ms)?;
        if from_ms > to_ms {
            return Err("from must not be after to".into());
        }
        Ok(Selection {
            from_ms,
            to_ms,
            event_types: self.event_types.clone(),
            destinations: self.destinations.clone(),
            results: self.results.clone(),
        })
    }
}

impl Selection {
    /// Where a listing starts: just before `from`.
    pub fn start_after(&self) -> Option<String> {
        (self.from_ms > 0).then(|| key(self.from_ms - 1, "~"))
    }

    /// Whether a listing has gone past `to`.
    pub fn is_past(&self, key: &str) -> bool {
        timestamp_of(key).is_some_and(|timestamp| timestamp > self.to_ms)
    }

    /// The destinations an archived event is replayed to: those of the
    /// selection (or all it went to) whose result is selected.
    pub fn destinations_of(&self, key: &str, archived: &Archived) -> Vec<String> {
        let in_time = timestamp_of(key)
            .is_some_and(|timestamp| (self.from_ms..=self.to_ms).contains(&timestamp));
        let typed = self.event_types.as_ref().is_none_or(|types| types.contains(&archived.event));
        if !in_time || !typed {
            return Vec::new();
        }
        archived
            .results
            .iter()
            .filter(|(destination, _)| {
                self.destinations.as_ref().is_none_or(|names| names.contains(destination))
            })
            .filter(|(_, result)| {
                self.results.as_ref().is_none_or(|results| results.contains(result))
            })
            .map(|(destination, _)| destination.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archived(event: &str, results: &[(&str, &str)]) -> Archived {
        Archived {
            event: event.into(),
            results: results.iter().map(|(d, r)| (d.to_string(), r.to_string())).collect(),
            ..Archived::default()
        }
    }

    #[test]
    fn keys_sort_by_event_time() {
        let early = key(1_705_314_600_000, "ab");
        let late = key(1_705_314_600_001, "00");
        assert!(early < late);
        assert_eq!(early, "events/1705314600000/ab");
        assert_eq!(timestamp_of(&early), Some(1_705_314_600_000));
    }

    #[test]
    fn a_destination_that_has_the_event_stays_delivered() {
        let mut results = BTreeMap::from([
            ("crm".to_string(), "delivered".to_string()),
            ("ops".to_string(), "failed".to_string()),
        ]);
        merge(
            &mut results,
            [
                ("crm".to_string(), "failed"),
                ("ops".to_string(), "delivered"),
                ("new".to_string(), "held"),
            ],
        );
        assert_eq!(results["crm"], "delivered");
        assert_eq!(results["ops"], "delivered");
        assert_eq!(results["new"], "held");
        assert_eq!(result_of("duplicate"), None);
        assert_eq!(result_of("retrying"), Some("failed"));
    }

    #[test]
    fn a_selection_filters_by_time_type_destination_and_result() {
        let request = ReplayRequest {
            from: Some("2024-01-15T10:30:00Z".into()),
            to: Some("2024-01-15T11:00:00Z".into()),
            event_types: Some(vec!["call_ended".into()]),
            results: Some(vec!["failed".into(), "dead_lettered".into()]),
            ..ReplayRequest::default()
        };
        let selection = request.selection(0).unwrap();
        let inside = key(1_705_314_700_000, "a");
        let event = archived(
            "call_ended",
            &[("crm", "delivered"), ("ops", "failed"), ("bi", "dead_lettered")],
        );
        assert_eq!(selection.destinations_of(&inside, &event), ["bi", "ops"]);
        assert!(
            selection
                .destinations_of(&inside, &archived("call_started", &[("ops", "failed")]))
                .is_empty()
        );
        assert!(selection.destinations_of(&key(1_705_314_000_000, "a"), &event).is_empty());
        assert!(selection.is_past(&key(1_705_316_400_001, "a")));
        assert!(!selection.is_past(&key(1_705_316_400_000, "a")));
        assert!(selection.start_after().unwrap() < inside);
        let only_ops =
            Selection { destinations: Some(vec!["ops".into()]), results: None, ..selection };
        assert_eq!(only_ops.destinations_of(&inside, &event), ["ops"]);
    }

    #[test]
    fn a_malformed_selection_says_why() {
        let bad = ReplayRequest { from: Some("yesterday".into()), ..ReplayRequest::default() };
        assert!(bad.selection(0).unwrap_err().contains("from must be an RFC 3339 time"));
        let reversed = ReplayRequest {
            from: Some("2024-01-15T11:00:00Z".into()),
            to: Some("2024-01-15T10:00:00Z".into()),
            ..ReplayRequest::default()
        };
        assert_eq!(reversed.selection(0).unwrap_err(), "from must not be after to");
        assert!(serde_json::from_str::<ReplayRequest>(r#"{"form": "x"}"#).is_err());
        let all = ReplayRequest::default().selection(5_000).unwrap();
        assert_eq!((all.from_ms, all.to_ms, all.start_after()), (0, 5_000, None));
    }
}

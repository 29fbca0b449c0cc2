//! `GET /metrics`: the Prometheus text exposition (format 0.0.4) of what
//! the Worker's objects already record. Plain data and a plain renderer
//! (covered by `cargo test`).
//!
//! Counts are exact across isolates: deliveries are counted by each
//! destination's object in the same statement batch that settles them, and
//! requests by a store the isolates report to within a second (see
//! [`request_counts`](crate::request_counts)).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// Upper bounds (ms) of the delivery-duration histogram's buckets.
pub const LATENCY_BUCKETS_MS: [u64; 11] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000];

/// A histogram of durations: cumulative counts per bucket of
/// [`LATENCY_BUCKETS_MS`], and the count and sum of every observation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    pub cumulative: Vec<u64>,
    pub count: u64,
    pub sum_ms: u64,
}

impl DestinationMetrics {
    /// The share of attempts that reached the destination and were taken
    /// (2xx), out of every attempt that was sent; `None` before any.
    pub fn success_rate(&self) -> Option<f64> {
        let count = |status: &str| self.deliveries.get(status).copied().unwrap_or(0);
        let sent: u64 = ["success", "failed", "rejected", "retrying", "dead_lettered"]
            .iter()
            .map(|status| count(status))
            .sum();
        (sent > 0).then(|| count("success") as f64 / sent as f64)
    }
}

impl Histogram {
    /// The duration below which `quantile` of the observations fall, as the
    /// upper bound of its bucket (ms); `None` without observations, or past
    /// the last bucket.
    pub fn quantile_ms(&self, quantile: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = (quantile * self.count as f64).ceil() as u64;
        let bucket = self.cumulative.iter().position(|&count| count >= rank.max(1))?;
        LATENCY_BUCKETS_MS.get(bucket).copied()
    }
}

/// One destination's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DestinationMetrics {
    pub name: String,
    /// Deliveries by delivery-log status (`success`, `failed`, `held`, `duplicate`, ...).
    pub deliveries: BTreeMap<String, u64>,
    pub latency: Histogram,
    /// `closed`, `open` or `half_open`.
    pub breaker: String,
    /// Failures in a row while the breaker is closed.
    pub consecutive_failures: u32,
    pub paused: bool,
    pub in_flight: u64,
    /// Queue mode: accepted, not yet delivered or dead-lettered.
    pub queued: u64,
    pub oldest_pending_seconds: u64,
    /// Dead letters kept now.
    pub dead_letters: u64,
    /// The last hours, minute by minute: `[minute since the epoch, delivered, failed]`.
    pub series: Vec<[u64; 3]>,
}

/// Everything `/metrics` shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: String,
    /// Webhook requests by route and outcome.
    pub requests: Vec<(String, String, u64)>,
    pub destinations: Vec<DestinationMetrics>,
}

/// A label value, escaped as the text format wants (`\\`, `\"`, `\n`).
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Writes one metric family's header.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Milliseconds as seconds in decimal (`25` is `0.025`), without float
/// formatting (which would weigh on the upload).
fn seconds(ms: u64) -> String {
    let fraction = format!("{:03}", ms % 1000);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() { format!("{}", ms / 1000) } else { format!("{}.{fraction}", ms / 1000) }
}

/// A per-destination gauge: its name, help, and how to read it.
type Gauge = (&'static str, &'static str, fn(&DestinationMetrics) -> u64);

/// The Prometheus text exposition of `snapshot`.
pub fn render(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    family(&mut out, "threetone_edge_info", "gauge", "The Worker's version.");
    let _ = writeln!(out, "threetone_edge_info{{version=\"{}\"}} 1", label(&snapshot.version));

    family(
        &mut out,
        "threetone_edge_requests_total",
        "counter",
        "Webhook requests, by route and outcome.",
    );
    for (route, outcome, count) in &snapshot.requests {
        let _ = writeln!(
            out,
            "threetone_edge_requests_total{{route=\"{}\",outcome=\"{}\"}} {count}",
            label(route),
            label(outcome)
        );
    }

    let destinations = &snapshot.destinations;
    family(
        &mut out,
        "threetone_edge_deliveries_total",
        "counter",
        "Deliveries to each destination, by result (the delivery log's status).",
    );
    for destination in destinations {
        for (result, count) in &destination.deliveries {
            let _ = writeln!(
                out,
                "threetone_edge_deliveries_total{{destination=\"{}\",result=\"{}\"}} {count}",
                label(&destination.name),
                label(result)
            );
        }
    }

    family(
        &mut out,
        "threetone_edge_delivery_duration_seconds",
        "histogram",
        "How long each destination took to answer a delivery.",
    );
    for destination in destinations {
        let name = label(&destination.name);
        let latency = &destination.latency;
        for (bound, count) in LATENCY_BUCKETS_MS.iter().zip(&latency.cumulative) {
            let le = seconds(*bound);
            let _ = writeln!(
                out,
                "threetone_edge_delivery_duration_seconds_bucket{{destination=\"{name}\",le=\"{le}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "threetone_edge_delivery_duration_seconds_bucket{{destination=\"{name}\",le=\"+Inf\"}} {}",
            latency.count
        );
        let sum = seconds(latency.sum_ms);
        let _ = writeln!(
            out,
            "threetone_edge_delivery_duration_seconds_sum{{destination=\"{name}\"}} {sum}"
        );
        let _ = writeln!(
            out,
            "threetone_edge_delivery_duration_seconds_count{{destination=\"{name}\"}} {}",
            latency.count
        );
    }

    let gauges: [Gauge; 6] = [
        (
            "threetone_edge_breaker_consecutive_failures",
            "Failures in a row at the destination while its breaker is closed.",
            |d| u64::from(d.consecutive_failures),
        ),
        (
            "threetone_edge_destination_paused",
            "1 while an operator has paused the destination.",
            |d| u64::from(d.paused),
        ),
        ("threetone_edge_in_flight", "Deliveries under way at the destination.", |d| d.in_flight),
        ("threetone_edge_queued", "Queue mode: deliveries accepted and not yet done.", |d| {
            d.queued
        }),
        (
            "threetone_edge_oldest_pending_seconds",
            "Queue mode: age of the oldest delivery not yet done.",
            |d| d.oldest_pending_seconds,
        ),
        ("threetone_edge_dead_letters", "Dead letters kept for the destination.", |d| {
            d.dead_letters
        }),
    ];
    for (name, help, value) in gauges {
        family(&mut out, name, "gauge", help);
        for destination in destinations {
            let _ = writeln!(
                out,
                "{name}{{destination=\"{}\"}} {}",
                label(&destination.name),
                value(destination)
            );
        }
    }

    family(
        &mut out,
        "threetone_edge_breaker_state",
        "gauge",
        "1 for the state each destination's circuit breaker is in.",
    );
    for destination in destinations {
        for state in ["closed", "open", "half_open"] {
            let value = u64::from(destination.breaker == state);
            let _ = writeln!(
                out,
                "threetone_edge_breaker_state{{destination=\"{}\",state=\"{state}\"}} {value}",
                label(&destination.name)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            version: "0.2.0".into(),
            requests: vec![
                ("/webhooks/threetone".into(), "delivered".into(), 7),
                ("/x\"y".into(), "invalid_signature".into(), 2),
            ],
            destinations: vec![DestinationMetrics {
                name: "crm".into(),
                deliveries: [("success".into(), 6), ("failed".into(), 1)].into(),
                latency: Histogram {
                    cumulative: vec![0, 1, 3, 5, 7, 7, 7, 7, 7, 7, 7],
                    count: 7,
                    sum_ms: 190,
                },
                breaker: "open".into(),
                consecutive_failures: 0,
                paused: true,
                in_flight: 2,
                queued: 3,
                oldest_pending_seconds: 40,
                dead_letters: 1,
                series: Vec::new(),
            }],
        }
    }

    #[test]
    fn the_exposition_has_a_header_per_family_and_escaped_labels() {
        let text = render(&snapshot());
        assert!(text.contains("# TYPE threetone_edge_requests_total counter\n"));
        assert!(text.contains(
            "threetone_edge_requests_total{route=\"/webhooks/threetone\",outcome=\"delivered\"} 7\n"
        ));
        assert!(text.contains(
            "threetone_edge_requests_total{route=\"/x\\\"y\",outcome=\"invalid_signature\"} 2\n"
        ));
        assert!(text.contains(
            "threetone_edge_deliveries_total{destination=\"crm\",result=\"failed\"} 1\n"
        ));
        assert!(text.contains(
            "threetone_edge_delivery_duration_seconds_bucket{destination=\"crm\",le=\"0.025\"} 3\n"
        ));
        assert!(text.contains(
            "threetone_edge_delivery_duration_seconds_bucket{destination=\"crm\",le=\"+Inf\"} 7\n"
        ));
        assert!(
            text.contains(
                "threetone_edge_delivery_duration_seconds_sum{destination=\"crm\"} 0.19\n"
            )
        );
        assert!(
            text.contains("threetone_edge_breaker_state{destination=\"crm\",state=\"open\"} 1\n")
        );
        assert!(
            text.contains("threetone_edge_breaker_state{destination=\"crm\",state=\"closed\"} 0\n")
        );
        assert!(text.contains("threetone_edge_destination_paused{destination=\"crm\"} 1\n"));
        assert!(text.contains("threetone_edge_oldest_pending_seconds{destination=\"crm\"} 40\n"));
        assert_eq!(text.matches("# TYPE ").count(), text.matches("# HELP ").count());
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn the_success_rate_counts_only_what_was_sent() {
        let mut destination = snapshot().destinations.remove(0);
        destination.deliveries.insert("duplicate".into(), 50);
        destination.deliveries.insert("held".into(), 9);
        assert_eq!(destination.success_rate(), Some(6.0 / 7.0));
        assert_eq!(DestinationMetrics::default().success_rate(), None);
    }

    #[test]
    fn durations_are_written_in_seconds() {
        assert_eq!(
            [seconds(5), seconds(10), seconds(2500), seconds(10_000), seconds(190), seconds(0)],
            ["0.005", "0.01", "2.5", "10", "0.19", "0"]
        );
    }

    #[test]
    fn quantiles_come_from_the_buckets() {
        let latency = snapshot().destinations[0].latency.clone();
        assert_eq!(latency.quantile_ms(0.5), Some(50));
        assert_eq!(latency.quantile_ms(0.95), Some(100));
        assert_eq!(latency.quantile_ms(0.1), Some(10));
        assert_eq!(Histogram::default().quantile_ms(0.5), None);
    }
}

//! Alerts: what is worth telling an operator, and how often. Plain
//! functions over plain data (covered by `cargo test`); the
//! [`AlertStore`](crate::alerts::AlertStore) object keeps the state and sends.
//!
//! Alerts of one kind for one destination (or route) are debounced: the
//! first goes out at once, the ones that follow within the window are
//! counted and sent as one summary when the window ends.

use serde::{Deserialize, Serialize};
use threetone_webhooks::Timestamp;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    DeadLettered,
    BreakerOpened,
    BreakerClosed,
    DestinationPaused,
    DestinationResumed,
    RouteUnusable,
}

impl AlertKind {
    fn describe(self) -> &'static str {
        match self {
            Self::DeadLettered => "events dead-lettered",
            Self::BreakerOpened => "circuit breaker opened",
            Self::BreakerClosed => "circuit breaker closed",
            Self::DestinationPaused => "destination paused",
            Self::DestinationResumed => "destination resumed",
            Self::RouteUnusable => "route unusable (its configuration has errors; it answers 503)",
        }
    }
}

/// One thing that happened, where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub route: String,
    pub destination: Option<String>,
    pub at_ms: u64,
}

impl Alert {
    /// What alerts are debounced by: the kind, and the destination (or route).
    pub fn key(&self) -> String {
        let subject = self.destination.as_deref().unwrap_or(&self.route);
        format!(
            "{}:{subject}",
            serde_json::to_value(self.kind)
                .ok()
                .and_then(|kind| kind.as_str().map(String::from))
                .unwrap_or_default()
        )
    }
}

/// The debounce state of one key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Debounce {
    /// When the last alert of this key went out.
    pub sent_ms: Option<u64>,
    /// Alerts held since then: how many, the first and the last.
    pub held: u32,
    pub first_ms: u64,
    pub last_ms: u64,
}

/// What to do with an alert, or at the end of a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send one message for `count` alerts between `first_ms` and `last_ms`.
    Send { count: u32, first_ms: u64, last_ms: u64 },
    /// Hold it; the window ends at `until_ms`.
    Hold { until_ms: u64 },
}

/// An alert arrives.
pub fn arrive(state: &Debounce, at_ms: u64, window_ms: u64) -> (Debounce, Step) {
    match state.sent_ms {
        Some(sent_ms) if at_ms < sent_ms.saturating_add(window_ms) => {
            let first_ms = if state.held == 0 { at_ms } else { state.first_ms };
            let held = Debounce { held: state.held + 1, first_ms, last_ms: at_ms, ..state.clone() };
            (held, Step::Hold { until_ms: sent_ms + window_ms })
        }
        _ => {
            let first_ms = if state.held == 0 { at_ms } else { state.first_ms };
            let step = Step::Send { count: state.held + 1, first_ms, last_ms: at_ms };
            (Debounce { sent_ms: Some(at_ms), held: 0, first_ms: 0, last_ms: 0 }, step)
        }
    }
}

/// The window may have ended: the summary of what it held, if anything.
pub fn window_end(state: &Debounce, now_ms: u64, window_ms: u64) -> (Debounce, Option<Step>) {
    match state.sent_ms {
        Some(sent_ms) if state.held > 0 && now_ms >= sent_ms.saturating_add(window_ms) => {
            let step =
                Step::Send { count: state.held, first_ms: state.first_ms, last_ms: state.last_ms };
            (Debounce { sent_ms: Some(now_ms), held: 0, first_ms: 0, last_ms: 0 }, Some(step))
        }
        _ => (state.clone(), None),
    }
}

/// The message: Slack-compatible `text`, and the same facts as fields.
/// Names only: never a body, a header value or a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub text: String,
    pub kind: AlertKind,
    pub route: String,
    pub destination: Option<String>,
    pub count: u32,
    pub first_at: String,
    pub last_at: String,
    pub dashboard: Option<String>,
}

fn time(ms: u64) -> String {
    Timestamp::from_unix_seconds((ms / 1000) as i64)
        .map(|timestamp| timestamp.to_string())
        .unwrap_or_default()
}

/// The message for `count` alerts like `alert`.
pub fn message(
    alert: &Alert,
    count: u32,
    first_ms: u64,
    last_ms: u64,
    dashboard: Option<&str>,
) -> Message {
    let subject = match &alert.destination {
        Some(destination) => format!("destination {destination} (route {})", alert.route),
        None => format!("route {}", alert.route),
    };
    let (first_at, last_at) = (time(first_ms), time(last_ms));
    let when = if count == 1 {
        format!("at {first_at}")
    } else {
        format!("{count} times from {first_at} to {last_at}")
    };
    let link = dashboard.map(|url| format!(" Dashboard: {url}")).unwrap_or_default();
    Message {
        text: format!("threetone-edge: {} for {subject}, {when}.{link}", alert.kind.describe()),
        kind: alert.kind,
        route: alert.route.clone(),
        destination: alert.destination.clone(),
        count,
        first_at,
        last_at,
        dashboard: dashboard.map(String::from),
    }
}

/// When a failed send is tried again (after attempt `attempts`), or `None`
/// to give up: 1 s, 2 s, 4 s.
pub fn retry_after_ms(attempts: u32) -> Option<u64> {
    (attempts < 4).then(|| 1000 << attempts.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: u64 = 60_000;

    #[test]
    fn the_first_alert_goes_out_and_a_burst_is_summed_up_once_per_window() {
        let (state, step) = arrive(&Debounce::default(), 1_000, WINDOW);
        assert_eq!(step, Step::Send { count: 1, first_ms: 1_000, last_ms: 1_000 });
        let (state, step) = arrive(&state, 2_000, WINDOW);
        assert_eq!(step, Step::Hold { until_ms: 61_000 });
        let (state, _) = arrive(&state, 5_000, WINDOW);
        let (state, _) = arrive(&state, 9_000, WINDOW);
        assert_eq!(window_end(&state, 60_999, WINDOW).1, None);
        let (state, step) = window_end(&state, 61_000, WINDOW);
        assert_eq!(step, Some(Step::Send { count: 3, first_ms: 2_000, last_ms: 9_000 }));
        // Nothing held: the next window ends quietly; the next alert after it goes out at once.
        assert_eq!(window_end(&state, 200_000, WINDOW).1, None);
        assert_eq!(
            arrive(&state, 200_000, WINDOW).1,
            Step::Send { count: 1, first_ms: 200_000, last_ms: 200_000 }
        );
    }

    #[test]
    fn alerts_are_debounced_per_kind_and_destination() {
        let alert = |kind, destination: Option<&str>| Alert {
            kind,
            route: "/r".into(),
            destination: destination.map(String::from),
            at_ms: 0,
        };
        assert_eq!(alert(AlertKind::DeadLettered, Some("crm")).key(), "dead_lettered:crm");
        assert_ne!(
            alert(AlertKind::DeadLettered, Some("crm")).key(),
            alert(AlertKind::DeadLettered, Some("ops")).key()
        );
        assert_ne!(
            alert(AlertKind::DeadLettered, Some("crm")).key(),
            alert(AlertKind::BreakerOpened, Some("crm")).key()
        );
        assert_eq!(alert(AlertKind::RouteUnusable, None).key(), "route_unusable:/r");
    }

    #[test]
    fn a_message_names_what_happened_where_and_when() {
        let alert = Alert {
            kind: AlertKind::BreakerOpened,
            route: "/webhooks/threetone".into(),
            destination: Some("crm".into()),
            at_ms: 0,
        };
        let message = message(
            &alert,
            3,
            1_705_314_600_000,
            1_705_314_660_000,
            Some("https://edge.example/dashboard"),
        );
        assert_eq!(
            message.text,
            "threetone-edge: circuit breaker opened for destination crm (route /webhooks/threetone), 3 times from \
             2024-01-15T10:30:00Z to 2024-01-15T10:31:00Z. Dashboard: https://edge.example/dashboard"
        );
        assert_eq!((message.count, message.first_at.as_str()), (3, "2024-01-15T10:30:00Z"));
    }

    #[test]
    fn sends_are_retried_three_times() {
        assert_eq!(
            (1..=4).map(retry_after_ms).collect::<Vec<_>>(),
            [Some(1000), Some(2000), Some(4000), None]
        );
    }
}

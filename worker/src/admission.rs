//! Whether an event may go to a destination now, and what its delivery's
//! end changes: the decisions of a destination's Durable Object
//! ([`DestinationStore`](crate::destination::DestinationStore)), as plain
//! functions over plain data (covered by `cargo test`).
//!
//! In order, a claim on an event's key finds:
//! 1. the event already delivered there: a duplicate (nothing is sent twice);
//! 2. its delivery under way (within its lease): in flight;
//! 3. the destination paused, its breaker open, or its caps reached: held,
//!    with how long to wait (nothing is sent, nothing is lost: the sender,
//!    or the queue, comes back);
//! 4. otherwise the delivery is acquired.

use serde::{Deserialize, Serialize};

use crate::config::{BreakerPolicy, Limits};

/// An event's delivery state at one destination, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub state: EntryState,
    /// When the state began (ms since the epoch).
    pub since_ms: u64,
    /// Claims that found it, from 1.
    pub attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    InFlight,
    Failed,
    Delivered,
}

/// The answer to a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    /// This request delivers the event; `attempt` counts claims, from 1.
    Acquired { attempt: u32 },
    /// Another request is delivering it now.
    InFlight,
    /// Already delivered there.
    Duplicate { attempt: u32 },
    /// Not now: nothing is sent.
    Held(Hold),
}

/// Why a delivery waits, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub reason: HoldReason,
    pub retry_after_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// An operator paused the destination.
    Paused,
    /// Its circuit breaker is open (or a probe is under way).
    BreakerOpen,
    /// `max_in_flight` deliveries are under way.
    InFlightCap,
    /// `max_per_second` deliveries started this second.
    RateCap,
}

impl HoldReason {
    /// The name in answers and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Paused => "destination_paused",
            Self::BreakerOpen => "breaker_open",
            Self::InFlightCap => "max_in_flight",
            Self::RateCap => "max_per_second",
        }
    }
}

/// A destination's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Breaker {
    /// Deliveries go through; `failures` in a row so far.
    Closed { failures: u32 },
    /// Deliveries are held since `since_ms`, until the cool-down ends.
    Open { since_ms: u64 },
    /// One probe delivery, started at `probe_ms`, decides.
    HalfOpen { probe_ms: u64 },
}

impl Breaker {
    /// The name in `/health` and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Closed { .. } => "closed",
            Self::Open { .. } => "open",
            Self::HalfOpen { .. } => "half_open",
        }
    }
}

/// The part of a destination's state that outlives its deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    pub paused: bool,
    pub breaker: Breaker,
}

impl Default for Control {
    fn default() -> Self {
        Self { paused: false, breaker: Breaker::Closed { failures: 0 } }
    }
}

/// Deliveries started in the current second (kept in memory: losing it
/// loses at most one second's count).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateWindow {
    pub second: u64,
    pub started: u32,
}

/// What a claim sees.
pub struct Claiming<'a> {
    pub entry: Option<&'a Entry>,
    pub control: Control,
    pub window: RateWindow,
    /// Deliveries under way (counted only when `max_in_flight` is set).
    pub in_flight: u32,
    pub now_ms: u64,
    /// How long a delivery may take before its claim lapses.
    pub lease_ms: u64,
    pub limits: Limits,
    pub breaker: BreakerPolicy,
}

/// What a claim decides: the answer, and the state to keep.
#[derive(Debug, PartialEq, Eq)]
pub struct Claimed {
    pub claim: Claim,
    /// The entry to write, if it changes.
    pub entry: Option<Entry>,
    pub control: Control,
    pub window: RateWindow,
}

/// How long a sender should wait while the destination is capped.
const CAP_RETRY_MS: u64 = 1000;
/// How long a sender (or the queue) waits while the destination is paused:
/// a resumed destination gets its held deliveries within this.
const PAUSED_RETRY_MS: u64 = 10_000;

/// Decides a claim (see the module's documentation for the order).
pub fn claim(claiming: &Claiming<'_>) -> Claimed {
    let Claiming { entry, control, window, now_ms, lease_ms, .. } = *claiming;
    let attempt = entry.map_or(0, |entry| entry.attempts).saturating_add(1);
    let unchanged = |claim| Claimed { claim, entry: None, control, window };
    match entry {
        // Nothing to write: a duplicate changes no state (its attempt
        // number is the claims so far, plus this one).
        Some(entry) if entry.state == EntryState::Delivered => {
            return unchanged(Claim::Duplicate { attempt });
        }
        Some(entry)
            if entry.state == EntryState::InFlight
                && now_ms < entry.since_ms.saturating_add(lease_ms) =>
        {
            return unchanged(Claim::InFlight);
        }
        _ => {}
    }
    if let Some(hold) = hold(claiming) {
        return unchanged(Claim::Held(hold));
    }
    let mut control = control;
    if let Breaker::Open { .. } | Breaker::HalfOpen { .. } = control.breaker {
        // Past the cool-down (or a lapsed probe): this delivery is the probe.
        control.breaker = Breaker::HalfOpen { probe_ms: now_ms };
    }
    let second = now_ms / 1000;
    let started = if window.second == second { window.started } else { 0 };
    Claimed {
        claim: Claim::Acquired { attempt },
        entry: Some(Entry { state: EntryState::InFlight, since_ms: now_ms, attempts: attempt }),
        control,
        window: RateWindow { second, started: started.saturating_add(1) },
    }
}

/// Why the delivery must wait, if it must.
fn hold(claiming: &Claiming<'_>) -> Option<Hold> {
    let Claiming { control, window, in_flight, now_ms, lease_ms, limits, breaker, .. } = *claiming;
    let held = |reason, retry_after_ms| Some(Hold { reason, retry_after_ms });
    if control.paused {
        return held(HoldReason::Paused, PAUSED_RETRY_MS);
    }
    match control.breaker {
        Breaker::Open { since_ms } if now_ms < since_ms.saturating_add(breaker.cooldown_ms) => {
            return held(HoldReason::BreakerOpen, since_ms + breaker.cooldown_ms - now_ms);
        }
        Breaker::HalfOpen { probe_ms } if now_ms < probe_ms.saturating_add(lease_ms) => {
            return held(HoldReason::BreakerOpen, CAP_RETRY_MS);
        }
        _ => {}
    }
    if limits.max_in_flight.is_some_and(|max| in_flight >= max) {
        return held(HoldReason::InFlightCap, CAP_RETRY_MS);
    }
    let started = if window.second == now_ms / 1000 { window.started } else { 0 };
    if limits.max_per_second.is_some_and(|max| started >= max) {
        return held(HoldReason::RateCap, 1000 - now_ms % 1000);
    }
    None
}

/// How a delivery ended, for the breaker and the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// 2xx: a redelivery is a duplicate.
    Delivered,
    /// 4xx: the destination is up but refused it; the key is released.
    Refused,
    /// 5xx, timeout, unreachable: counts toward the breaker; the key is released.
    Failed,
}

/// A change of a breaker's state, worth an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    BreakerOpened,
    BreakerClosed,
}

/// The breaker after a delivery ended, and the change worth reporting.
pub fn settle(
    breaker: Breaker,
    ending: Ending,
    policy: BreakerPolicy,
    now_ms: u64,
) -> (Breaker, Option<Transition>) {
    let was_open = !matches!(breaker, Breaker::Closed { .. });
    match (ending, breaker) {
        (Ending::Delivered | Ending::Refused, _) => {
            (Breaker::Closed { failures: 0 }, was_open.then_some(Transition::BreakerClosed))
        }
        (Ending::Failed, Breaker::Closed { failures })
            if failures.saturating_add(1) >= policy.failures =>
        {
            (Breaker::Open { since_ms: now_ms }, Some(Transition::BreakerOpened))
        }
        (Ending::Failed, Breaker::Closed { failures }) => {
            (Breaker::Closed { failures: failures + 1 }, None)
        }
        // The probe failed (or a delivery started before the breaker opened): open again.
        (Ending::Failed, Breaker::HalfOpen { .. }) => (Breaker::Open { since_ms: now_ms }, None),
        (Ending::Failed, open @ Breaker::Open { .. }) => (open, None),
    }
}

/// The state an ended delivery leaves: delivered, or released for a retry.
pub fn ended(ending: Ending) -> EntryState {
    if ending == Ending::Delivered { EntryState::Delivered } else { EntryState::Failed }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: BreakerPolicy = BreakerPolicy { failures: 3, cooldown_ms: 30_000 };
    const LEASE: u64 = 15_000;

    fn claiming(entry: Option<&Entry>, control: Control, now_ms: u64) -> Claiming<'_> {
        Claiming {
            entry,
            control,
            window: RateWindow::default(),
            in_flight: 0,
            now_ms,
            lease_ms: LEASE,
            limits: Limits::default(),
            breaker: POLICY,
        }
    }

    fn entry(state: EntryState, since_ms: u64, attempts: u32) -> Entry {
        Entry { state, since_ms, attempts }
    }

    #[test]
    fn a_new_event_is_acquired_and_a_delivered_one_is_a_duplicate() {
        let first = claim(&claiming(None, Control::default(), 1_000));
        assert_eq!(first.claim, Claim::Acquired { attempt: 1 });
        assert_eq!(first.entry, Some(entry(EntryState::InFlight, 1_000, 1)));
        let delivered =
            Entry { state: ended(Ending::Delivered), since_ms: 2_000, ..first.entry.unwrap() };
        let again = claim(&claiming(Some(&delivered), Control::default(), 3_000));
        assert_eq!(again.claim, Claim::Duplicate { attempt: 2 });
        assert_eq!(again.entry, None, "a duplicate writes nothing");
    }

    #[test]
    fn an_event_in_flight_waits_for_its_lease_and_a_failed_one_is_retried() {
        let in_flight = entry(EntryState::InFlight, 1_000, 1);
        assert_eq!(
            claim(&claiming(Some(&in_flight), Control::default(), 2_000)).claim,
            Claim::InFlight
        );
        let lapsed = claim(&claiming(Some(&in_flight), Control::default(), 1_000 + LEASE));
        assert_eq!(lapsed.claim, Claim::Acquired { attempt: 2 });
        let failed = Entry { state: ended(Ending::Failed), since_ms: 2_000, ..in_flight.clone() };
        assert_eq!(
            claim(&claiming(Some(&failed), Control::default(), 2_001)).claim,
            Claim::Acquired { attempt: 2 }
        );
    }

    #[test]
    fn a_paused_destination_holds_new_deliveries_but_still_knows_duplicates() {
        let paused = Control { paused: true, ..Control::default() };
        let held = claim(&claiming(None, paused, 1_000));
        assert_eq!(
            held.claim,
            Claim::Held(Hold { reason: HoldReason::Paused, retry_after_ms: 10_000 })
        );
        assert_eq!(held.entry, None);
        let delivered = entry(EntryState::Delivered, 500, 1);
        assert_eq!(
            claim(&claiming(Some(&delivered), paused, 1_000)).claim,
            Claim::Duplicate { attempt: 2 }
        );
    }

    #[test]
    fn the_breaker_opens_after_consecutive_failures_fails_fast_half_opens_and_closes() {
        let mut breaker = Breaker::Closed { failures: 0 };
        let mut transitions = Vec::new();
        for at in [1, 2, 3] {
            let (next, transition) = settle(breaker, Ending::Failed, POLICY, at);
            breaker = next;
            transitions.extend(transition);
        }
        assert_eq!(breaker, Breaker::Open { since_ms: 3 });
        assert_eq!(transitions, [Transition::BreakerOpened]);
        // A success in between resets the count.
        let (reset, _) = settle(Breaker::Closed { failures: 2 }, Ending::Delivered, POLICY, 0);
        assert_eq!(reset, Breaker::Closed { failures: 0 });
        // Open: held for the rest of the cool-down.
        let open = Control { breaker, ..Control::default() };
        let held = claim(&claiming(None, open, 10_003));
        assert_eq!(
            held.claim,
            Claim::Held(Hold { reason: HoldReason::BreakerOpen, retry_after_ms: 20_000 })
        );
        // After it, one probe goes; others wait while it is under way.
        let probe = claim(&claiming(None, open, 30_003));
        assert_eq!(probe.claim, Claim::Acquired { attempt: 1 });
        assert_eq!(probe.control.breaker, Breaker::HalfOpen { probe_ms: 30_003 });
        let other = claim(&claiming(None, probe.control, 30_100));
        assert_eq!(
            other.claim,
            Claim::Held(Hold { reason: HoldReason::BreakerOpen, retry_after_ms: 1000 })
        );
        // The probe fails: open again; succeeds: closed.
        assert_eq!(
            settle(probe.control.breaker, Ending::Failed, POLICY, 31_000),
            (Breaker::Open { since_ms: 31_000 }, None)
        );
        assert_eq!(
            settle(probe.control.breaker, Ending::Delivered, POLICY, 31_000),
            (Breaker::Closed { failures: 0 }, Some(Transition::BreakerClosed))
        );
        // A refusal (4xx) shows the destination is up.
        assert_eq!(
            settle(probe.control.breaker, Ending::Refused, POLICY, 31_000).0,
            Breaker::Closed { failures: 0 }
        );
        // A probe whose end never came lapses with its lease.
        assert_eq!(
            claim(&claiming(None, probe.control, 30_003 + LEASE)).claim,
            Claim::Acquired { attempt: 1 }
        );
    }

    #[test]
    fn caps_hold_deliveries_past_max_in_flight_and_max_per_second() {
        let limits = Limits { max_per_second: Some(2), max_in_flight: Some(3) };
        let mut state = Claiming { limits, ..claiming(None, Control::default(), 5_100) };
        state.in_flight = 3;
        assert_eq!(
            claim(&state).claim,
            Claim::Held(Hold { reason: HoldReason::InFlightCap, retry_after_ms: 1000 })
        );
        state.in_flight = 0;
        let first = claim(&state);
        state.window = first.window;
        let second = claim(&state);
        state.window = second.window;
        assert_eq!(second.window, RateWindow { second: 5, started: 2 });
        assert_eq!(
            claim(&state).claim,
            Claim::Held(Hold { reason: HoldReason::RateCap, retry_after_ms: 900 })
        );
        // The next second starts afresh.
        state.now_ms = 6_000;
        assert_eq!(claim(&state).claim, Claim::Acquired { attempt: 1 });
    }
}

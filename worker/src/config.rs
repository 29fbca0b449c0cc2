//! Configuration from the Worker's environment (vars and secrets), parsed
//! by plain functions over an [`Environment`] (covered by `cargo test`).
//!
//! Parsing never fails: a missing or malformed value is recorded as a
//! [`Problem`] naming the variable (never its value). An
//! [`Severity::Error`] makes the webhook route fail closed with 503; a
//! [`Severity::Warning`] flags a configuration that works but is weaker
//! than it should be (a short secret, replayable events, a number clamped
//! into its range).

mod routes;

use serde::Serialize;
use threetone_webhooks::{EventType, Verifier};

pub use crate::retry::RetryPolicy;

/// Where the configuration comes from: the Worker's `env`, or a map in tests.
pub trait Environment {
    /// The variable or secret `name`, as set; `None` if unset.
    fn var(&self, name: &str) -> Option<String>;
    /// `text` as the runtime's WHATWG URL parser reads it; `None` if it is not a URL.
    fn parse_url(&self, text: &str) -> Option<ParsedUrl>;
}

/// A URL as the runtime parsed it.
pub struct ParsedUrl {
    /// The scheme with its colon, e.g. `https:`.
    pub protocol: String,
    /// The normalized URL.
    pub href: String,
}

/// Everything the Worker reads from its environment.
pub struct Config {
    /// The webhooks this Worker receives: `ROUTES`, or one route made of the
    /// single-route variables (`WEBHOOK_PATH`, `WEBHOOK_SECRET`, `ORIGIN_URL`, ...).
    pub routes: Vec<Route>,
    /// `ROUTES` could not be read at all: no path is known, so every webhook
    /// request fails closed.
    pub routes_unreadable: bool,
    /// Largest accepted body (`MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Freshness window (`MAX_EVENT_AGE_SECONDS`, by default the idempotency
    /// TTL); `None` when turned off.
    pub max_event_age_seconds: Option<u64>,
    /// What to do with an authentic body that is not a valid event (`ON_INVALID_PAYLOAD`).
    pub on_invalid_payload: InvalidPayloadPolicy,
    /// Bearer token of the admin endpoints (`ADMIN_TOKEN`); `None` disables them.
    pub admin_token: Option<String>,
    /// Failed verifications (and, separately, failed admin logins) per
    /// window before an address gets 429 (`RATE_LIMIT_FAILURES`).
    pub rate_limit_failures: u64,
    /// Length of that window (`RATE_LIMIT_WINDOW_SECONDS`).
    pub rate_limit_window_seconds: u64,
    /// How long a delivered event is remembered (`IDEMPOTENCY_TTL_SECONDS`).
    pub idempotency_ttl_seconds: u64,
    /// Forward while the sender waits, or accept and deliver from a queue (`DELIVERY_MODE`).
    pub delivery_mode: DeliveryMode,
    /// Queue mode's retries toward a destination (the seed's `retry_config`).
    pub retry: RetryPolicy,
    /// When a destination's circuit breaker opens, and for how long.
    pub breaker: BreakerPolicy,
    /// Where alerts go (`ALERT_WEBHOOK_URL`); `None`: nowhere.
    pub alerts: Option<AlertTarget>,
    /// How long the archive keeps events (`ARCHIVE_RETENTION_DAYS`).
    pub archive_retention_days: u64,
    /// Events a replay sends per second (`REPLAY_PER_SECOND`).
    pub replay_per_second: u32,
    /// What is missing, malformed or weak.
    pub problems: Vec<Problem>,
}

/// Where alerts go, and how often.
pub struct AlertTarget {
    pub url: String,
    /// Signs each alert (`X-ThreeTone-Edge-Signature`) with `ALERT_SIGNING_SECRET`.
    pub signer: Option<Verifier>,
    /// Alerts of one kind for one destination within this are sent as one (`ALERT_DEBOUNCE_SECONDS`).
    pub debounce_ms: u64,
}

/// One ThreeTone webhook: where it is received, its secrets, its events
/// and where they go.
pub struct Route {
    /// The path ThreeTone posts to.
    pub path: String,
    /// Its secrets, the current one first; `None` if one is missing.
    pub verifier: Option<Verifier>,
    /// Event types it forwards; the others are acknowledged. `None`: all.
    pub events: Option<Vec<String>>,
    pub destinations: Vec<Destination>,
    /// Whether it passed every check: if not, it answers 503.
    pub usable: bool,
}

impl Route {
    fn unusable(path: String) -> Self {
        Self { path, verifier: None, events: None, destinations: Vec::new(), usable: false }
    }

    /// Whether the route forwards `event` at all.
    pub fn forwards(&self, event: &str) -> bool {
        self.events.as_ref().is_none_or(|events| events.iter().any(|name| name == event))
    }

    /// The destinations `event` goes to, in their configured order.
    pub fn destinations_for<'a>(&'a self, event: &'a str) -> impl Iterator<Item = &'a Destination> {
        let forwarded = self.forwards(event);
        self.destinations.iter().filter(move |destination| forwarded && destination.takes(event))
    }
}

/// A service that receives a route's events.
#[derive(Debug)]
pub struct Destination {
    /// Unique across routes: it names the destination's state and its admin paths.
    pub name: String,
    /// Where events are POSTed, normalized.
    pub url: String,
    /// Event types it takes; `None`: all of the route's.
    pub events: Option<Vec<String>>,
    /// Re-signs each body for this destination (`X-ThreeTone-Edge-Signature`).
    pub signer: Option<Verifier>,
    /// How long to wait for its answer.
    pub timeout_ms: u64,
    pub limits: Limits,
}

impl Destination {
    /// Whether this destination takes `event`.
    pub fn takes(&self, event: &str) -> bool {
        self.events.as_ref().is_none_or(|events| events.iter().any(|name| name == event))
    }
}

/// What may reach a destination at once, and per second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Limits {
    /// Deliveries started per second (`max_per_second`).
    pub max_per_second: Option<u32>,
    /// Deliveries under way at any moment (`max_in_flight`).
    pub max_in_flight: Option<u32>,
}

/// A destination's circuit breaker: it opens after `failures` consecutive
/// failures (5xx, timeout, unreachable), holds deliveries for `cooldown_ms`,
/// then lets one probe through: its success closes it, its failure opens it
/// again (`BREAKER_FAILURES`, `BREAKER_COOLDOWN_SECONDS`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BreakerPolicy {
    pub failures: u32,
    pub cooldown_ms: u64,
}

/// Policy for authentic bodies that fail validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidPayloadPolicy {
    /// Forward with `X-ThreeTone-Edge-Invalid: <code>`: nothing authentic is lost.
    Forward,
    /// Answer 400 with the error code.
    Reject,
}

/// How verified events reach their destinations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryMode {
    /// Forward while ThreeTone waits; its retries cover failures.
    Direct,
    /// Answer 202 once queued; the queue consumer forwards with [`RetryPolicy`].
    Queue,
}

impl DeliveryMode {
    /// The name used in `DELIVERY_MODE` and `/health`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Queue => "queue",
        }
    }
}

/// A configuration problem: the variable and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Variable (or secret binding) name.
    pub variable: String,
    /// Where in the variable's JSON value, for `ROUTES`: `$[0].destinations[1].url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What is wrong (never the value).
    pub reason: String,
    /// Whether the Worker (or, for a `ROUTES` path, that route) fails closed because of it.
    pub severity: Severity,
}

/// How much a [`Problem`] matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Fails closed (503) until it is fixed.
    Error,
    /// It works, but weaker than it should be.
    Warning,
}

/// A whole-number variable: its name, default and accepted range. A value
/// outside the range is clamped into it and reported.
struct Number {
    name: &'static str,
    default: u64,
    min: u64,
    max: u64,
}

const MAX_BODY_BYTES: Number =
    Number { name: "MAX_BODY_BYTES", default: 262_144, min: 1024, max: 32 * 1024 * 1024 };
const ORIGIN_TIMEOUT_MS: Number =
    Number { name: "ORIGIN_TIMEOUT_MS", default: 10_000, min: 100, max: 60_000 };
const RATE_LIMIT_FAILURES: Number =
    Number { name: "RATE_LIMIT_FAILURES", default: 10, min: 1, max: 1_000_000 };
const RATE_LIMIT_WINDOW_SECONDS: Number =
    Number { name: "RATE_LIMIT_WINDOW_SECONDS", default: 60, min: 1, max: 86_400 };
const IDEMPOTENCY_TTL_SECONDS: Number =
    Number { name: "IDEMPOTENCY_TTL_SECONDS", default: 86_400, min: 1, max: 30 * 86_400 };
/// Its default is the idempotency TTL (see [`Reader::max_event_age`]).
const MAX_EVENT_AGE_SECONDS: Number =
    Number { name: "MAX_EVENT_AGE_SECONDS", default: 0, min: 1, max: 365 * 86_400 };
const RETRY_MAX_RETRIES: Number =
    Number { name: "RETRY_MAX_RETRIES", default: 5, min: 0, max: 100 };
/// Cloudflare Queues delay a message by at most 12 hours.
const RETRY_DELAY_SECONDS: Number =
    Number { name: "RETRY_DELAY_SECONDS", default: 5, min: 0, max: 43_200 };
const RETRY_MAX_DELAY_SECONDS: Number =
    Number { name: "RETRY_MAX_DELAY_SECONDS", default: 300, min: 0, max: 43_200 };
const BREAKER_FAILURES: Number =
    Number { name: "BREAKER_FAILURES", default: 5, min: 1, max: 1_000 };
const ARCHIVE_RETENTION_DAYS: Number =
    Number { name: "ARCHIVE_RETENTION_DAYS", default: 30, min: 1, max: 3650 };
const REPLAY_PER_SECOND: Number =
    Number { name: "REPLAY_PER_SECOND", default: 10, min: 1, max: 100 };
const ALERT_DEBOUNCE_SECONDS: Number =
    Number { name: "ALERT_DEBOUNCE_SECONDS", default: 300, min: 1, max: 86_400 };
const BREAKER_COOLDOWN_SECONDS: Number =
    Number { name: "BREAKER_COOLDOWN_SECONDS", default: 30, min: 1, max: 3_600 };

/// A secret shorter than this is flagged: ThreeTone's own secrets, and any
/// made by `openssl rand -hex 16`, are longer.
pub const MIN_SECRET_BYTES: usize = 16;
/// An admin token shorter than this disables the admin endpoints.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 32;

/// The bindings of the secrets still accepted during a rotation, one secret each.
pub const PREVIOUS_SECRETS: [&str; 9] = [
    "WEBHOOK_SECRET_PREVIOUS",
    "WEBHOOK_SECRET_PREVIOUS_2",
    "WEBHOOK_SECRET_PREVIOUS_3",
    "WEBHOOK_SECRET_PREVIOUS_4",
    "WEBHOOK_SECRET_PREVIOUS_5",
    "WEBHOOK_SECRET_PREVIOUS_6",
    "WEBHOOK_SECRET_PREVIOUS_7",
    "WEBHOOK_SECRET_PREVIOUS_8",
    "WEBHOOK_SECRET_PREVIOUS_9",
];
/// v1's comma-separated list of previous secrets, still read when no
/// comma-joined fragment of it could be a split secret.
const LEGACY_PREVIOUS_SECRETS: &str = "WEBHOOK_SECRETS_PREVIOUS";
/// The destination a single-route configuration forwards to (`ORIGIN_URL`).
pub const ORIGIN: &str = "origin";
/// The single-route variables `ROUTES` replaces.
const SINGLE_ROUTE_VARIABLES: [&str; 4] =
    ["WEBHOOK_PATH", "ORIGIN_URL", "ORIGIN_SECRET", "FORWARD_EVENTS"];

impl Config {
    /// Reads the configuration; see the README for every variable.
    pub fn parse(env: &impl Environment) -> Self {
        Reader { env, problems: Vec::new(), default_timeout_ms: ORIGIN_TIMEOUT_MS.default }.read()
    }

    /// Whether nothing global stops the Worker (each route also has its own [`Route::usable`]).
    pub fn is_ready(&self) -> bool {
        // Errors with a path are a route's own: they stop that route only.
        let global_error =
            |problem: &Problem| problem.severity == Severity::Error && problem.path.is_none();
        !self.routes_unreadable && !self.problems.iter().any(global_error)
    }

    /// The route at `path`, if one is configured there.
    pub fn route(&self, path: &str) -> Option<&Route> {
        self.routes.iter().find(|route| route.path == path)
    }

    /// Whether `route` may forward: it and the global configuration passed every check.
    pub fn is_usable(&self, route: &Route) -> bool {
        route.usable && self.is_ready()
    }

    /// The destination named `name`, with its route.
    pub fn destination(&self, name: &str) -> Option<(&Route, &Destination)> {
        self.routes.iter().find_map(|route| {
            route
                .destinations
                .iter()
                .find(|destination| destination.name == name)
                .map(|d| (route, d))
        })
    }

    /// Every destination, route by route.
    pub fn destinations(&self) -> impl Iterator<Item = &Destination> {
        self.routes.iter().flat_map(|route| &route.destinations)
    }
}

const ROUTES_VARIABLE: &str = "ROUTES";

struct Reader<'a, E> {
    env: &'a E,
    problems: Vec<Problem>,
    /// `ORIGIN_TIMEOUT_MS`: a destination's timeout unless it sets its own.
    default_timeout_ms: u64,
}

impl<E: Environment> Reader<'_, E> {
    fn read(mut self) -> Config {
        let on_invalid_payload = match self.text("ON_INVALID_PAYLOAD").as_deref() {
            None | Some("forward") => InvalidPayloadPolicy::Forward,
            Some("reject") => InvalidPayloadPolicy::Reject,
            Some(_) => {
                self.error("ON_INVALID_PAYLOAD", "must be `forward` or `reject`");
                InvalidPayloadPolicy::Reject
            }
        };
        self.default_timeout_ms = self.number(&ORIGIN_TIMEOUT_MS);
        let (routes, routes_unreadable) = match self.text(ROUTES_VARIABLE) {
            Some(text) => {
                for name in SINGLE_ROUTE_VARIABLES {
                    if self.text(name).is_some() {
                        self.warning(name, "ignored: ROUTES is set".into());
                    }
                }
                match routes::read(&mut self, &text) {
                    Some(routes) => (routes, false),
                    None => (Vec::new(), true),
                }
            }
            None => (vec![self.single_route()], false),
        };
        let idempotency_ttl_seconds = self.number(&IDEMPOTENCY_TTL_SECONDS);
        Config {
            routes,
            routes_unreadable,
            max_body_bytes: usize::try_from(self.number(&MAX_BODY_BYTES)).unwrap_or(usize::MAX),
            max_event_age_seconds: self.max_event_age(idempotency_ttl_seconds),
            on_invalid_payload,
            admin_token: self.admin_token(),
            rate_limit_failures: self.number(&RATE_LIMIT_FAILURES),
            rate_limit_window_seconds: self.number(&RATE_LIMIT_WINDOW_SECONDS),
            idempotency_ttl_seconds,
            delivery_mode: self.delivery_mode(),
            retry: self.retry_policy(),
            breaker: BreakerPolicy {
                failures: u32::try_from(self.number(&BREAKER_FAILURES)).unwrap_or(u32::MAX),
                cooldown_ms: self.number(&BREAKER_COOLDOWN_SECONDS) * 1000,
            },
            alerts: self.alerts(),
            archive_retention_days: self.number(&ARCHIVE_RETENTION_DAYS),
            replay_per_second: u32::try_from(self.number(&REPLAY_PER_SECOND)).unwrap_or(1),
            problems: self.problems,
        }
    }

    /// The route of a configuration without `ROUTES`: `WEBHOOK_PATH`, its
    /// secrets, `FORWARD_EVENTS`, and one destination, `origin`.
    fn single_route(&mut self) -> Route {
        let path = self.text("WEBHOOK_PATH").unwrap_or_else(|| "/webhooks/threetone".into());
        let verifier = self.verifier();
        let destination = self.origin();
        let events = self.text("FORWARD_EVENTS").map(|list| {
            let events: Vec<String> = list
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(String::from)
                .collect();
            for name in events.iter().filter(|name| EventType::from_name(name).is_none()) {
                self.warning(
                    "FORWARD_EVENTS",
                    format!("{name:?} is not an event type: never forwarded"),
                );
            }
            events
        });
        let usable = verifier.is_some() && destination.is_some();
        Route { path, verifier, events, destinations: destination.into_iter().collect(), usable }
    }

    /// `ORIGIN_URL`, with `ORIGIN_SECRET` and `ORIGIN_TIMEOUT_MS`.
    fn origin(&mut self) -> Option<Destination> {
        let Some(text) = self.text("ORIGIN_URL") else {
            self.error("ORIGIN_URL", "not set");
            return None;
        };
        let url = self.url(&text).map_err(|reason| self.error("ORIGIN_URL", reason)).ok();
        let signer = self.secret("ORIGIN_SECRET").and_then(|secret| Verifier::new(secret).ok());
        Some(Destination {
            name: ORIGIN.into(),
            url: url?,
            events: None,
            signer,
            timeout_ms: self.default_timeout_ms,
            limits: Limits::default(),
        })
    }

    fn delivery_mode(&mut self) -> DeliveryMode {
        match self.text("DELIVERY_MODE").as_deref() {
            None | Some("direct") => DeliveryMode::Direct,
            Some("queue") => DeliveryMode::Queue,
            Some(_) => {
                self.error("DELIVERY_MODE", "must be `direct` or `queue`");
                DeliveryMode::Direct
            }
        }
    }

    /// Defaults are the seed's example `retry_config`.
    fn retry_policy(&mut self) -> RetryPolicy {
        let retry_on_status = match self.text("RETRY_ON_STATUS") {
            None => vec![500, 502, 503, 504],
            Some(list) => list
                .split(',')
                .map(|status| status.trim().parse::<u16>().ok().filter(|s| (100..=599).contains(s)))
                .collect::<Option<_>>()
                .unwrap_or_else(|| {
                    self.error(
                        "RETRY_ON_STATUS",
                        "must be comma-separated HTTP statuses (100-599)",
                    );
                    Vec::new()
                }),
        };
        let max_retries = self.number(&RETRY_MAX_RETRIES);
        RetryPolicy {
            max_retries: u32::try_from(max_retries).unwrap_or(u32::MAX),
            delay_seconds: self.number(&RETRY_DELAY_SECONDS),
            exponential_backoff: self.text("RETRY_EXPONENTIAL_BACKOFF").as_deref() != Some("false"),
            max_delay_seconds: self.number(&RETRY_MAX_DELAY_SECONDS),
            retry_on_status,
        }
    }

    /// `WEBHOOK_SECRET` first, then each previous secret from its own binding.
    fn verifier(&mut self) -> Option<Verifier> {
        let Some(current) = self.secret("WEBHOOK_SECRET") else {
            self.error("WEBHOOK_SECRET", "not set");
            return None;
        };
        let mut secrets = vec![current];
        secrets.extend(PREVIOUS_SECRETS.iter().filter_map(|name| self.secret(name)));
        secrets.extend(self.legacy_previous_secrets());
        Verifier::with_secrets(&secrets).ok()
    }

    /// A secret, flagged when it is too short to resist guessing.
    fn secret(&mut self, name: &str) -> Option<String> {
        let secret = self.text(name)?;
        if secret.len() < MIN_SECRET_BYTES {
            self.warning(name, format!("shorter than {MIN_SECRET_BYTES} bytes: easy to guess"));
        }
        Some(secret)
    }

    /// The secret bound to `name`, named in `ROUTES` at `path`.
    fn secret_named(&mut self, name: &str, path: &str) -> Option<String> {
        let secret = self.text(name)?;
        if secret.len() < MIN_SECRET_BYTES {
            self.problems.push(Problem {
                variable: name.into(),
                path: Some(path.into()),
                reason: format!("shorter than {MIN_SECRET_BYTES} bytes: easy to guess"),
                severity: Severity::Warning,
            });
        }
        Some(secret)
    }

    /// v1's `WEBHOOK_SECRETS_PREVIOUS`: a comma could also be part of a
    /// secret, and splitting it there would accept bodies signed with a
    /// fragment. So the list is read only when every fragment is long
    /// enough to be a secret of its own; otherwise the Worker fails closed.
    fn legacy_previous_secrets(&mut self) -> Vec<String> {
        let Some(list) = self.text(LEGACY_PREVIOUS_SECRETS) else { return Vec::new() };
        let fragments: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|fragment| !fragment.is_empty())
            .map(String::from)
            .collect();
        if fragments.iter().any(|fragment| fragment.len() < MIN_SECRET_BYTES) {
            self.error(
                LEGACY_PREVIOUS_SECRETS,
                format!(
                    "holds a comma-separated part shorter than {MIN_SECRET_BYTES} bytes, which may be \
                     part of a secret: put each previous secret in its own binding \
                     (WEBHOOK_SECRET_PREVIOUS, WEBHOOK_SECRET_PREVIOUS_2, ...)"
                ),
            );
            return Vec::new();
        }
        self.warning(
            LEGACY_PREVIOUS_SECRETS,
            "deprecated: put each previous secret in its own binding (WEBHOOK_SECRET_PREVIOUS, ...)"
                .into(),
        );
        fragments
    }

    /// A destination URL, normalized: https, or http with `ALLOW_INSECURE_ORIGIN=true`.
    fn url(&self, text: &str) -> Result<String, &'static str> {
        let url = self.env.parse_url(text).ok_or("not a URL")?;
        let insecure_allowed = self.text("ALLOW_INSECURE_ORIGIN").as_deref() == Some("true");
        match url.protocol.as_str() {
            "https:" => Ok(url.href),
            "http:" if insecure_allowed => Ok(url.href),
            "http:" => Err("must be https (set ALLOW_INSECURE_ORIGIN=true for local work)"),
            _ => Err("must be an https URL"),
        }
    }

    /// `ALERT_WEBHOOK_URL`, with `ALERT_SIGNING_SECRET` and `ALERT_DEBOUNCE_SECONDS`.
    fn alerts(&mut self) -> Option<AlertTarget> {
        let text = self.text("ALERT_WEBHOOK_URL")?;
        // Alerts never stop deliveries: a bad URL turns them off, with a warning.
        let url = self
            .url(&text)
            .map_err(|reason| {
                self.warning("ALERT_WEBHOOK_URL", format!("{reason}: alerts are off"))
            })
            .ok()?;
        let signer =
            self.secret("ALERT_SIGNING_SECRET").and_then(|secret| Verifier::new(secret).ok());
        Some(AlertTarget { url, signer, debounce_ms: self.number(&ALERT_DEBOUNCE_SECONDS) * 1000 })
    }

    /// The admin token, if it is long enough to resist guessing.
    fn admin_token(&mut self) -> Option<String> {
        let token = self.text("ADMIN_TOKEN")?;
        if token.chars().count() < MIN_ADMIN_TOKEN_CHARS {
            self.warning(
                "ADMIN_TOKEN",
                format!(
                    "shorter than {MIN_ADMIN_TOKEN_CHARS} characters: the admin endpoints stay disabled"
                ),
            );
            return None;
        }
        Some(token)
    }

    /// The freshness window: the idempotency TTL unless set. A signed event
    /// older than the TTL is no longer remembered, so accepting it would let
    /// anyone who captured it replay it: a window longer than the TTL, or
    /// none, is flagged.
    fn max_event_age(&mut self, idempotency_ttl_seconds: u64) -> Option<u64> {
        const REPLAYABLE: &str = "signed events older than IDEMPOTENCY_TTL_SECONDS are accepted \
                                  and forwarded again: anyone holding one can replay it";
        let name = MAX_EVENT_AGE_SECONDS.name;
        match self.text(name).as_deref() {
            None => Some(idempotency_ttl_seconds),
            Some("off") => {
                self.warning(name, format!("off: {REPLAYABLE}"));
                None
            }
            Some(_) => {
                let age = self.number(&MAX_EVENT_AGE_SECONDS);
                if age > idempotency_ttl_seconds {
                    self.warning(
                        name,
                        format!("longer than IDEMPOTENCY_TTL_SECONDS: {REPLAYABLE}"),
                    );
                }
                Some(age)
            }
        }
    }

    /// A non-empty, trimmed string variable or secret.
    fn text(&self, name: &str) -> Option<String> {
        let value = self.env.var(name)?;
        let value = value.trim();
        (!value.is_empty()).then(|| value.to_string())
    }

    /// A whole number in its range: the default when unset; an error when
    /// not a number; clamped (with a warning) when out of range.
    fn number(&mut self, number: &Number) -> u64 {
        let Some(text) = self.text(number.name) else { return number.default };
        let Ok(value) = text.parse::<u64>() else {
            self.error(number.name, "not a whole number");
            return number.default;
        };
        let clamped = value.clamp(number.min, number.max);
        if clamped != value {
            self.warning(
                number.name,
                format!(
                    "out of range: must be {} to {}; using the nearest",
                    number.min, number.max
                ),
            );
        }
        clamped
    }

    fn error(&mut self, variable: &str, reason: impl Into<String>) {
        self.problems.push(Problem {
            variable: variable.into(),
            path: None,
            reason: reason.into(),
            severity: Severity::Error,
        });
    }

    /// An error at `path` of a JSON variable: it makes that part unusable.
    fn error_at(&mut self, variable: &str, path: &str, reason: &str) {
        self.problems.push(Problem {
            variable: variable.into(),
            path: Some(path.into()),
            reason: reason.into(),
            severity: Severity::Error,
        });
    }

    fn warning(&mut self, variable: &str, reason: String) {
        self.problems.push(Problem {
            variable: variable.into(),
            path: None,
            reason,
            severity: Severity::Warning,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// An environment from pairs; URLs "parsed" by their scheme, enough for these tests
    /// (the runtime's own parser is exercised in workerd).
    struct Vars(HashMap<&'static str, &'static str>);

    impl Environment for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|value| value.to_string())
        }
        fn parse_url(&self, text: &str) -> Option<ParsedUrl> {
            let (scheme, rest) = text.split_once("://")?;
            (!rest.is_empty() && !text.contains(' '))
                .then(|| ParsedUrl { protocol: format!("{scheme}:"), href: text.into() })
        }
    }

    const SECRET: &str = "whsec_0123456789abcdef";

    fn parse(pairs: &[(&'static str, &'static str)]) -> Config {
        let mut vars: HashMap<_, _> =
            [("WEBHOOK_SECRET", SECRET), ("ORIGIN_URL", "https://origin.example/hook")].into();
        vars.extend(pairs.iter().copied());
        vars.retain(|_, value| !value.is_empty());
        Config::parse(&Vars(vars))
    }

    fn problems(config: &Config) -> Vec<(&str, Severity)> {
        config
            .problems
            .iter()
            .map(|problem| (problem.variable.as_str(), problem.severity))
            .collect()
    }

    /// The single route's verifier.
    fn verifier(config: &Config) -> Option<&Verifier> {
        config.routes.first()?.verifier.as_ref()
    }

    #[test]
    fn a_minimal_configuration_has_no_problems_and_the_safe_defaults() {
        let config = parse(&[]);
        assert_eq!(problems(&config), []);
        assert!(config.is_ready());
        assert_eq!(verifier(&config).map(Verifier::secret_count), Some(1));
        assert_eq!(config.max_event_age_seconds, Some(86_400));
        assert_eq!(config.idempotency_ttl_seconds, 86_400);
        assert_eq!(config.admin_token, None);
    }

    #[test]
    fn previous_secrets_come_one_per_binding_and_short_ones_are_flagged() {
        let config = parse(&[
            ("WEBHOOK_SECRET_PREVIOUS", "whsec_previous_one_7f3a"),
            ("WEBHOOK_SECRET_PREVIOUS_3", "whsec_previous,three"),
            ("WEBHOOK_SECRET_PREVIOUS_2", "short"),
        ]);
        let all = verifier(&config).unwrap();
        assert_eq!(all.secret_count(), 4);
        // A comma is part of a secret in its own binding.
        assert!(
            all.verify(b"x", &Verifier::new("whsec_previous,three").unwrap().sign(b"x")).is_ok()
        );
        assert!(all.verify(b"x", &Verifier::new("three").unwrap().sign(b"x")).is_err());
        assert_eq!(problems(&config), [("WEBHOOK_SECRET_PREVIOUS_2", Severity::Warning)]);
        assert!(config.is_ready());
    }

    #[test]
    fn a_comma_joined_fragment_shorter_than_a_secret_fails_closed() {
        let config = parse(&[("WEBHOOK_SECRETS_PREVIOUS", "whsec_rotated_Q9v7,x")]);
        assert_eq!(problems(&config), [("WEBHOOK_SECRETS_PREVIOUS", Severity::Error)]);
        assert!(!config.is_ready());
        let current = verifier(&config).unwrap();
        assert!(current.verify(b"x", &Verifier::new("x").unwrap().sign(b"x")).is_err());
        // Long fragments still work (deprecated).
        let config =
            parse(&[("WEBHOOK_SECRETS_PREVIOUS", "whsec_old_secret_one, whsec_old_secret_two")]);
        assert_eq!(problems(&config), [("WEBHOOK_SECRETS_PREVIOUS", Severity::Warning)]);
        assert_eq!(verifier(&config).map(Verifier::secret_count), Some(3));
    }

    #[test]
    fn a_short_current_secret_is_flagged_but_works() {
        let config = parse(&[("WEBHOOK_SECRET", "whsec_short")]);
        assert_eq!(problems(&config), [("WEBHOOK_SECRET", Severity::Warning)]);
        assert!(config.is_ready());
    }

    #[test]
    fn events_older_than_the_idempotency_ttl_are_refused_unless_flagged() {
        let config = parse(&[("IDEMPOTENCY_TTL_SECONDS", "3600")]);
        assert_eq!(config.max_event_age_seconds, Some(3600));
        let config = parse(&[("MAX_EVENT_AGE_SECONDS", "300")]);
        assert_eq!((config.max_event_age_seconds, problems(&config)), (Some(300), vec![]));
        for (age, expected) in [("off", None), ("90000", Some(90_000))] {
            let config = parse(&[("MAX_EVENT_AGE_SECONDS", age)]);
            assert_eq!(config.max_event_age_seconds, expected);
            assert_eq!(problems(&config), [("MAX_EVENT_AGE_SECONDS", Severity::Warning)]);
            assert!(config.problems[0].reason.contains("replay"), "{:?}", config.problems);
            assert!(config.is_ready());
        }
    }

    #[test]
    fn numbers_are_clamped_into_their_ranges_and_reported() {
        let config = parse(&[
            ("ORIGIN_TIMEOUT_MS", "2147483648"),
            ("RATE_LIMIT_WINDOW_SECONDS", "0"),
            ("IDEMPOTENCY_TTL_SECONDS", "18446744073709551615"),
            ("MAX_BODY_BYTES", "1"),
            ("RETRY_DELAY_SECONDS", "100000"),
        ]);
        assert_eq!(config.routes[0].destinations[0].timeout_ms, 60_000);
        assert_eq!(config.rate_limit_window_seconds, 1);
        assert_eq!(config.idempotency_ttl_seconds, 30 * 86_400);
        assert_eq!(config.max_body_bytes, 1024);
        assert_eq!(config.retry.delay_seconds, 43_200);
        // Milliseconds of the largest TTL fit easily: nothing wraps.
        assert!(config.idempotency_ttl_seconds.checked_mul(1000).is_some());
        assert!(config.is_ready());
        assert_eq!(
            problems(&config),
            [
                ("ORIGIN_TIMEOUT_MS", Severity::Warning),
                ("IDEMPOTENCY_TTL_SECONDS", Severity::Warning),
                ("MAX_BODY_BYTES", Severity::Warning),
                ("RATE_LIMIT_WINDOW_SECONDS", Severity::Warning),
                ("RETRY_DELAY_SECONDS", Severity::Warning),
            ]
        );
        let config = parse(&[("MAX_BODY_BYTES", "lots"), ("RETRY_ON_STATUS", "500,700")]);
        assert_eq!(
            problems(&config),
            [("MAX_BODY_BYTES", Severity::Error), ("RETRY_ON_STATUS", Severity::Error)]
        );
    }

    #[test]
    fn a_short_admin_token_disables_the_admin_endpoints() {
        let config = parse(&[("ADMIN_TOKEN", "0123456789abcdef0123456789abcde")]);
        assert_eq!(config.admin_token, None);
        assert_eq!(problems(&config), [("ADMIN_TOKEN", Severity::Warning)]);
        let token = "0123456789abcdef0123456789abcdef";
        let config = parse(&[("ADMIN_TOKEN", token)]);
        assert_eq!(config.admin_token.as_deref(), Some(token));
    }

    #[test]
    fn no_problem_reveals_a_value() {
        let config = parse(&[
            ("WEBHOOK_SECRET", "tiny"),
            ("WEBHOOK_SECRETS_PREVIOUS", "whsec_rotated_Q9v7,x"),
            ("ADMIN_TOKEN", "admin_tiny"),
            ("ORIGIN_URL", "ftp://secret-host.example"),
        ]);
        let reported = format!("{:?}", config.problems);
        for value in ["tiny", "whsec_rotated_Q9v7", "admin_tiny", "secret-host"] {
            assert!(!reported.contains(value), "{reported}");
        }
    }

    const CRM_SECRET: &str = "whsec_crm_0123456789abcd";

    /// `ROUTES`, with the secrets it names bound.
    fn routes(json: &'static str) -> Config {
        parse(&[
            ("ROUTES", json),
            ("ORIGIN_URL", ""),
            ("SECOND_SECRET", "whsec_second_0123456789"),
            ("CRM_SIGNING_SECRET", CRM_SECRET),
        ])
    }

    fn paths(config: &Config) -> Vec<(&str, &str)> {
        config
            .problems
            .iter()
            .filter_map(|problem| Some((problem.path.as_deref()?, problem.reason.as_str())))
            .collect()
    }

    const TWO_ROUTES: &str = r#"[
        {"path": "/webhooks/threetone", "secrets": ["WEBHOOK_SECRET"], "events": ["call_started", "call_ended", "system_error"],
         "destinations": [
           {"name": "crm", "url": "https://crm.example/threetone", "events": ["call_started", "call_ended"],
            "signing_secret": "CRM_SIGNING_SECRET", "timeout_ms": 2000, "max_per_second": 50, "max_in_flight": 8},
           {"name": "ops", "url": "https://ops.example/hooks", "events": ["system_error"]}]},
        {"path": "/webhooks/second", "secrets": ["SECOND_SECRET"], "destinations": [{"name": "archive", "url": "https://archive.example/in"}]}
    ]"#;

    #[test]
    fn routes_fan_out_by_their_event_filters() {
        let config = routes(TWO_ROUTES);
        assert_eq!(problems(&config), []);
        assert_eq!(config.routes.len(), 2);
        let first = config.route("/webhooks/threetone").unwrap();
        assert!(config.is_usable(first));
        let names =
            |event| first.destinations_for(event).map(|d| d.name.as_str()).collect::<Vec<_>>();
        assert_eq!(names("call_started"), ["crm"]);
        assert_eq!(names("system_error"), ["ops"]);
        assert_eq!(names("agent_busy"), Vec::<&str>::new()); // not among the route's events
        let crm = &first.destinations[0];
        assert_eq!(
            (crm.timeout_ms, crm.limits),
            (2000, Limits { max_per_second: Some(50), max_in_flight: Some(8) })
        );
        assert_eq!(
            crm.signer.as_ref().map(|signer| signer.sign(b"x")),
            Some(Verifier::new(CRM_SECRET).unwrap().sign(b"x"))
        );
        // The default timeout is ORIGIN_TIMEOUT_MS; a route without events takes all.
        let second = config.route("/webhooks/second").unwrap();
        assert_eq!(second.destinations[0].timeout_ms, 10_000);
        assert_eq!(second.destinations_for("agent_busy").count(), 1);
        // Each route has its own secrets.
        let sign = |secret| Verifier::new(secret).unwrap().sign(b"{}");
        assert!(first.verifier.as_ref().unwrap().verify(b"{}", &sign(SECRET)).is_ok());
        assert!(
            first
                .verifier
                .as_ref()
                .unwrap()
                .verify(b"{}", &sign("whsec_second_0123456789"))
                .is_err()
        );
        assert!(
            second
                .verifier
                .as_ref()
                .unwrap()
                .verify(b"{}", &sign("whsec_second_0123456789"))
                .is_ok()
        );
        assert_eq!(
            config.destination("archive").map(|(route, _)| route.path.as_str()),
            Some("/webhooks/second")
        );
    }

    #[test]
    fn every_problem_of_routes_has_its_path_and_only_its_route_fails_closed() {
        let config = routes(
            r#"[
            {"path": "/ok", "secrets": ["WEBHOOK_SECRET"], "destinations": [{"name": "crm", "url": "https://crm.example/"}]},
            {"path": "/bad", "secrets": ["WEBHOOK_SECRET", "MISSING_SECRET"], "events": ["call_startd"],
             "destinations": [
               {"name": "crm", "url": "http://crm.example/", "max_in_flight": 0, "timout_ms": 5},
               {"name": "Bad Name", "url": "https://x.example/", "signing_secret": "NOPE"}]},
            {"path": "/health", "secrets": [], "destinations": []},
            {"path": "/ok", "secrets": ["WEBHOOK_SECRET"], "destinations": [{"name": "other", "url": "https://o.example/"}]}
        ]"#,
        );
        assert!(config.is_ready());
        assert!(config.is_usable(config.route("/ok").unwrap()));
        assert!(!config.is_usable(&config.routes[1]));
        assert!(!config.is_usable(&config.routes[2]));
        assert!(!config.routes[3].usable, "a second route at the same path");
        let reported = paths(&config);
        for (path, reason) in [
            (
                "$[1].secrets[1]",
                "no secret is bound to MISSING_SECRET (wrangler secret put MISSING_SECRET)",
            ),
            ("$[1].events[0]", "\"call_startd\" is not an event type"),
            (
                "$[1].destinations[0].url",
                "must be https (set ALLOW_INSECURE_ORIGIN=true for local work)",
            ),
            ("$[1].destinations[0].max_in_flight", "must be a whole number from 1 to 1000"),
            ("$[1].destinations[1].name", "must be 1 to 64 of a-z, 0-9, - and _"),
            (
                "$[1].destinations[1].signing_secret",
                "no secret is bound to NOPE (wrangler secret put NOPE)",
            ),
            ("$[2].path", "is one of the Worker's own paths"),
            ("$[2].secrets", "must be a non-empty array of secret binding names"),
            ("$[2].destinations", "must be a non-empty array of destinations"),
            ("$[3].path", "another route has this path"),
        ] {
            assert!(reported.contains(&(path, reason)), "{path}: {reason} not in {reported:#?}");
        }
        assert!(reported.iter().any(|(path, reason)| *path == "$[1].destinations[0].timout_ms"
            && reason.starts_with("unknown field")));
        let config = routes(
            r#"[{"path": "/a", "secrets": ["WEBHOOK_SECRET"], "destinations": [{"name": "crm", "url": "https://a.example/"}]},
                {"path": "/b", "secrets": ["WEBHOOK_SECRET"], "destinations": [{"name": "crm", "url": "https://b.example/"}]}]"#,
        );
        assert_eq!(
            paths(&config),
            [(
                "$[1].destinations[0].name",
                "another destination has this name (names are unique across routes)"
            )]
        );
        assert!(config.is_usable(&config.routes[0]) && !config.is_usable(&config.routes[1]));
    }

    #[test]
    fn routes_that_cannot_be_read_fail_closed_everywhere() {
        for json in ["not json", "{}", "[]", "\"text\""] {
            let config = parse(&[("ROUTES", json)]);
            assert!(config.routes_unreadable, "{json}");
            assert!(!config.is_ready());
            assert!(config.routes.is_empty());
            assert!(
                problems(&config)
                    .iter()
                    .any(|(variable, severity)| *variable == "ROUTES"
                        && *severity == Severity::Error)
            );
        }
    }

    #[test]
    fn single_route_variables_are_reported_as_ignored_beside_routes() {
        let config = parse(&[
            ("ROUTES", TWO_ROUTES),
            ("SECOND_SECRET", "whsec_second_0123456789"),
            ("CRM_SIGNING_SECRET", CRM_SECRET),
            ("FORWARD_EVENTS", "call_started"),
        ]);
        assert_eq!(
            problems(&config),
            [("ORIGIN_URL", Severity::Warning), ("FORWARD_EVENTS", Severity::Warning)]
        );
        assert!(config.is_ready());
    }

    #[test]
    fn without_routes_the_single_route_variables_make_one_route_to_origin() {
        let config = parse(&[
            ("WEBHOOK_PATH", "/hook"),
            ("FORWARD_EVENTS", "call_ended, nope"),
            ("ORIGIN_SECRET", CRM_SECRET),
        ]);
        let route = config.route("/hook").unwrap();
        assert_eq!(route.destinations.len(), 1);
        let origin = &route.destinations[0];
        assert_eq!(
            (origin.name.as_str(), origin.url.as_str()),
            (ORIGIN, "https://origin.example/hook")
        );
        assert!(origin.signer.is_some());
        assert!(route.forwards("call_ended") && !route.forwards("call_started"));
        assert_eq!(problems(&config), [("FORWARD_EVENTS", Severity::Warning)]);
    }
}

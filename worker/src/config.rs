//! Configuration from the Worker's environment (vars and secrets), parsed
//! by plain functions over an [`Environment`] (covered by `cargo test`).
//!
//! Parsing never fails: a missing or malformed value is recorded as a
//! [`Problem`] naming the variable (never its value). An
//! [`Severity::Error`] makes the webhook route fail closed with 503; a
//! [`Severity::Warning`] flags a configuration that works but is weaker
//! than it should be (a short secret, replayable events, a number clamped
//! into its range).

use serde::Serialize;
use threetone_webhooks::Verifier;

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
    /// Path of the webhook route (`WEBHOOK_PATH`).
    pub webhook_path: String,
    /// `WEBHOOK_SECRET` and the previous secrets; `None` if not configured.
    pub verifier: Option<Verifier>,
    /// Where verified events go (`ORIGIN_URL`), normalized.
    pub origin_url: Option<String>,
    /// Re-signs forwarded bodies for the origin (`ORIGIN_SECRET`).
    pub origin_signer: Option<Verifier>,
    /// Event types to forward (`FORWARD_EVENTS`); `None` forwards all.
    pub forward_events: Option<Vec<String>>,
    /// Largest accepted body (`MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Freshness window (`MAX_EVENT_AGE_SECONDS`, by default the idempotency
    /// TTL); `None` when turned off.
    pub max_event_age_seconds: Option<u64>,
    /// What to do with an authentic body that is not a valid event (`ON_INVALID_PAYLOAD`).
    pub on_invalid_payload: InvalidPayloadPolicy,
    /// Bearer token of the admin endpoints (`ADMIN_TOKEN`); `None` disables them.
    pub admin_token: Option<String>,
    /// How long to wait for the origin (`ORIGIN_TIMEOUT_MS`).
    pub origin_timeout_ms: u64,
    /// Failed verifications (and, separately, failed admin logins) per
    /// window before an address gets 429 (`RATE_LIMIT_FAILURES`).
    pub rate_limit_failures: u64,
    /// Length of that window (`RATE_LIMIT_WINDOW_SECONDS`).
    pub rate_limit_window_seconds: u64,
    /// How long a delivered event is remembered (`IDEMPOTENCY_TTL_SECONDS`).
    pub idempotency_ttl_seconds: u64,
    /// Forward while the sender waits, or accept and deliver from a queue (`DELIVERY_MODE`).
    pub delivery_mode: DeliveryMode,
    /// Queue mode's retries toward the origin (the seed's `retry_config`).
    pub retry: RetryPolicy,
    /// What is missing, malformed or weak.
    pub problems: Vec<Problem>,
}

/// Policy for authentic bodies that fail validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidPayloadPolicy {
    /// Forward with `X-ThreeTone-Edge-Invalid: <code>`: nothing authentic is lost.
    Forward,
    /// Answer 400 with the error code.
    Reject,
}

/// How verified events reach the origin.
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

/// ThreeTone's own retry settings (`retry_config`), applied by the queue consumer:
/// `RETRY_MAX_RETRIES`, `RETRY_DELAY_SECONDS`, `RETRY_EXPONENTIAL_BACKOFF`,
/// `RETRY_MAX_DELAY_SECONDS`, `RETRY_ON_STATUS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt before the event is dead-lettered.
    pub max_retries: u32,
    /// Delay before the first retry.
    pub delay_seconds: u64,
    /// Double the delay at each retry.
    pub exponential_backoff: bool,
    /// Upper bound of any delay.
    pub max_delay_seconds: u64,
    /// Origin statuses worth retrying (timeouts and unreachable origins always are).
    pub retry_on_status: Vec<u16>,
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1 for the first retry).
    pub fn delay_seconds(&self, retry: u32) -> u64 {
        let factor = if self.exponential_backoff {
            1u64.checked_shl(retry.saturating_sub(1)).unwrap_or(u64::MAX)
        } else {
            1
        };
        self.delay_seconds.saturating_mul(factor).min(self.max_delay_seconds)
    }
}

/// A configuration problem: the variable and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Variable name.
    pub variable: &'static str,
    /// What is wrong (never the value).
    pub reason: String,
    /// Whether the Worker fails closed because of it.
    pub severity: Severity,
}

/// How much a [`Problem`] matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The webhook route fails closed (503) until it is fixed.
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

impl Config {
    /// Reads the configuration; see the README for every variable.
    pub fn parse(env: &impl Environment) -> Self {
        Reader { env, problems: Vec::new() }.read()
    }

    /// Whether the webhook route may forward anything.
    pub fn is_ready(&self) -> bool {
        !self.problems.iter().any(|problem| problem.severity == Severity::Error)
    }
}

struct Reader<'a, E> {
    env: &'a E,
    problems: Vec<Problem>,
}

impl<E: Environment> Reader<'_, E> {
    fn read(mut self) -> Config {
        let verifier = self.verifier();
        let origin_url = self.origin_url();
        let origin_signer = self.secret("ORIGIN_SECRET").and_then(|secret| {
            Verifier::new(secret).map_err(|_| self.error("ORIGIN_SECRET", "empty")).ok()
        });
        let on_invalid_payload = match self.text("ON_INVALID_PAYLOAD").as_deref() {
            None | Some("forward") => InvalidPayloadPolicy::Forward,
            Some("reject") => InvalidPayloadPolicy::Reject,
            Some(_) => {
                self.error("ON_INVALID_PAYLOAD", "must be `forward` or `reject`");
                InvalidPayloadPolicy::Reject
            }
        };
        let idempotency_ttl_seconds = self.number(&IDEMPOTENCY_TTL_SECONDS);
        Config {
            webhook_path: self.text("WEBHOOK_PATH").unwrap_or_else(|| "/webhooks/threetone".into()),
            verifier,
            origin_url,
            origin_signer,
            forward_events: self.text("FORWARD_EVENTS").map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(String::from)
                    .collect()
            }),
            max_body_bytes: usize::try_from(self.number(&MAX_BODY_BYTES)).unwrap_or(usize::MAX),
            max_event_age_seconds: self.max_event_age(idempotency_ttl_seconds),
            on_invalid_payload,
            admin_token: self.admin_token(),
            origin_timeout_ms: self.number(&ORIGIN_TIMEOUT_MS),
            rate_limit_failures: self.number(&RATE_LIMIT_FAILURES),
            rate_limit_window_seconds: self.number(&RATE_LIMIT_WINDOW_SECONDS),
            idempotency_ttl_seconds,
            delivery_mode: self.delivery_mode(),
            retry: self.retry_policy(),
            problems: self.problems,
        }
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
    fn secret(&mut self, name: &'static str) -> Option<String> {
        let secret = self.text(name)?;
        if secret.len() < MIN_SECRET_BYTES {
            self.warning(name, format!("shorter than {MIN_SECRET_BYTES} bytes: easy to guess"));
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

    fn origin_url(&mut self) -> Option<String> {
        let Some(text) = self.text("ORIGIN_URL") else {
            self.error("ORIGIN_URL", "not set");
            return None;
        };
        let Some(url) = self.env.parse_url(&text) else {
            self.error("ORIGIN_URL", "not a URL");
            return None;
        };
        let insecure_allowed = self.text("ALLOW_INSECURE_ORIGIN").as_deref() == Some("true");
        match url.protocol.as_str() {
            "https:" => Some(url.href),
            "http:" if insecure_allowed => Some(url.href),
            "http:" => {
                self.error(
                    "ORIGIN_URL",
                    "must be https (set ALLOW_INSECURE_ORIGIN=true for local work)",
                );
                None
            }
            _ => {
                self.error("ORIGIN_URL", "must be an https URL");
                None
            }
        }
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

    fn error(&mut self, variable: &'static str, reason: impl Into<String>) {
        self.problems.push(Problem { variable, reason: reason.into(), severity: Severity::Error });
    }

    fn warning(&mut self, variable: &'static str, reason: String) {
        self.problems.push(Problem { variable, reason, severity: Severity::Warning });
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

    fn problems(config: &Config) -> Vec<(&'static str, Severity)> {
        config.problems.iter().map(|problem| (problem.variable, problem.severity)).collect()
    }

    #[test]
    fn a_minimal_configuration_has_no_problems_and_the_safe_defaults() {
        let config = parse(&[]);
        assert_eq!(problems(&config), []);
        assert!(config.is_ready());
        assert_eq!(config.verifier.as_ref().map(Verifier::secret_count), Some(1));
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
        let verifier = config.verifier.as_ref().unwrap();
        assert_eq!(verifier.secret_count(), 4);
        // A comma is part of a secret in its own binding.
        assert!(
            verifier
                .verify(b"x", &Verifier::new("whsec_previous,three").unwrap().sign(b"x"))
                .is_ok()
        );
        assert!(verifier.verify(b"x", &Verifier::new("three").unwrap().sign(b"x")).is_err());
        assert_eq!(problems(&config), [("WEBHOOK_SECRET_PREVIOUS_2", Severity::Warning)]);
        assert!(config.is_ready());
    }

    #[test]
    fn a_comma_joined_fragment_shorter_than_a_secret_fails_closed() {
        let config = parse(&[("WEBHOOK_SECRETS_PREVIOUS", "whsec_rotated_Q9v7,x")]);
        assert_eq!(problems(&config), [("WEBHOOK_SECRETS_PREVIOUS", Severity::Error)]);
        assert!(!config.is_ready());
        let verifier = config.verifier.as_ref().unwrap();
        assert!(verifier.verify(b"x", &Verifier::new("x").unwrap().sign(b"x")).is_err());
        // Long fragments still work (deprecated).
        let config =
            parse(&[("WEBHOOK_SECRETS_PREVIOUS", "whsec_old_secret_one, whsec_old_secret_two")]);
        assert_eq!(problems(&config), [("WEBHOOK_SECRETS_PREVIOUS", Severity::Warning)]);
        assert_eq!(config.verifier.as_ref().map(Verifier::secret_count), Some(3));
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
        assert_eq!(config.origin_timeout_ms, 60_000);
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
                ("IDEMPOTENCY_TTL_SECONDS", Severity::Warning),
                ("MAX_BODY_BYTES", Severity::Warning),
                ("ORIGIN_TIMEOUT_MS", Severity::Warning),
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
}

//! Configuration from the Worker's environment (vars and secrets).
//!
//! Parsing never fails: a missing or malformed value is recorded as a
//! [`Problem`] naming the variable (never its value), and the webhook route
//! fails closed with 503 while any problem remains.

use threetone_webhooks::Verifier;
use worker::Env;
use worker::wasm_bindgen::{self, JsValue, prelude::wasm_bindgen};

#[wasm_bindgen]
extern "C" {
    /// The runtime's own WHATWG URL parser: it handles every host the
    /// runtime's `fetch` does (Unicode ones too), and costs the upload nothing.
    #[wasm_bindgen(js_name = URL)]
    type WhatwgUrl;
    #[wasm_bindgen(constructor, js_class = "URL", catch)]
    fn parse(url: &str) -> Result<WhatwgUrl, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn protocol(this: &WhatwgUrl) -> String;
    #[wasm_bindgen(method, getter)]
    fn href(this: &WhatwgUrl) -> String;
}

/// Everything the Worker reads from its environment.
pub struct Config {
    /// Path of the webhook route (`WEBHOOK_PATH`).
    pub webhook_path: String,
    /// `WEBHOOK_SECRET` then `WEBHOOK_SECRETS_PREVIOUS`; `None` if not configured.
    pub verifier: Option<Verifier>,
    /// Where verified events go (`ORIGIN_URL`), normalized.
    pub origin_url: Option<String>,
    /// Re-signs forwarded bodies for the origin (`ORIGIN_SECRET`).
    pub origin_signer: Option<Verifier>,
    /// Event types to forward (`FORWARD_EVENTS`); `None` forwards all.
    pub forward_events: Option<Vec<String>>,
    /// Largest accepted body (`MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Freshness window (`MAX_EVENT_AGE_SECONDS`); `None` disables it.
    pub max_event_age_seconds: Option<u64>,
    /// What to do with an authentic body that is not a valid event (`ON_INVALID_PAYLOAD`).
    pub on_invalid_payload: InvalidPayloadPolicy,
    /// Bearer token for `/logs` and `/test` (`ADMIN_TOKEN`); `None` disables them.
    pub admin_token: Option<String>,
    /// How long to wait for the origin (`ORIGIN_TIMEOUT_MS`).
    pub origin_timeout_ms: u64,
    /// Failed verifications per window before an address gets 429 (`RATE_LIMIT_FAILURES`).
    pub rate_limit_failures: u64,
    /// Length of that window (`RATE_LIMIT_WINDOW_SECONDS`).
    pub rate_limit_window_seconds: u64,
    /// How long a delivered event is remembered (`IDEMPOTENCY_TTL_SECONDS`).
    pub idempotency_ttl_seconds: u64,
    /// Forward while the sender waits, or accept and deliver from a queue (`DELIVERY_MODE`).
    pub delivery_mode: DeliveryMode,
    /// Queue mode's retries toward the origin (the seed's `retry_config`).
    pub retry: RetryPolicy,
    /// What is missing or malformed.
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Variable name.
    pub variable: &'static str,
    /// What is wrong (never the value).
    pub reason: &'static str,
}

impl Config {
    /// Reads the configuration; see the README for every variable.
    pub fn from_env(env: &Env) -> Self {
        let reader = Reader { env, problems: Vec::new() };
        reader.read()
    }

    /// Whether the webhook route may forward anything.
    pub fn is_ready(&self) -> bool {
        self.problems.is_empty()
    }
}

struct Reader<'a> {
    env: &'a Env,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn read(mut self) -> Config {
        let verifier = self.verifier();
        let origin_url = self.origin_url();
        let origin_signer = self.text("ORIGIN_SECRET").and_then(|secret| {
            Verifier::new(secret).map_err(|_| self.problem("ORIGIN_SECRET", "empty")).ok()
        });
        let on_invalid_payload = match self.text("ON_INVALID_PAYLOAD").as_deref() {
            None | Some("forward") => InvalidPayloadPolicy::Forward,
            Some("reject") => InvalidPayloadPolicy::Reject,
            Some(_) => {
                self.problem("ON_INVALID_PAYLOAD", "must be `forward` or `reject`");
                InvalidPayloadPolicy::Reject
            }
        };
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
            max_body_bytes: self.number("MAX_BODY_BYTES", 262_144) as usize,
            max_event_age_seconds: self.optional_number("MAX_EVENT_AGE_SECONDS"),
            on_invalid_payload,
            admin_token: self.text("ADMIN_TOKEN"),
            origin_timeout_ms: self.number("ORIGIN_TIMEOUT_MS", 10_000),
            rate_limit_failures: self.number("RATE_LIMIT_FAILURES", 10),
            rate_limit_window_seconds: self.number("RATE_LIMIT_WINDOW_SECONDS", 60).max(1),
            idempotency_ttl_seconds: self.number("IDEMPOTENCY_TTL_SECONDS", 86_400).max(1),
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
                self.problem("DELIVERY_MODE", "must be `direct` or `queue`");
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
                .map(|status| status.trim().parse::<u16>())
                .collect::<Result<_, _>>()
                .unwrap_or_else(|_| {
                    self.problem("RETRY_ON_STATUS", "must be comma-separated HTTP statuses");
                    Vec::new()
                }),
        };
        RetryPolicy {
            max_retries: u32::try_from(self.number("RETRY_MAX_RETRIES", 5)).unwrap_or(u32::MAX),
            delay_seconds: self.number("RETRY_DELAY_SECONDS", 5),
            exponential_backoff: self.text("RETRY_EXPONENTIAL_BACKOFF").as_deref() != Some("false"),
            max_delay_seconds: self.number("RETRY_MAX_DELAY_SECONDS", 300),
            retry_on_status,
        }
    }

    fn verifier(&mut self) -> Option<Verifier> {
        let Some(current) = self.text("WEBHOOK_SECRET") else {
            self.problem("WEBHOOK_SECRET", "not set");
            return None;
        };
        let previous = self.text("WEBHOOK_SECRETS_PREVIOUS").unwrap_or_default();
        let secrets = std::iter::once(current.as_str())
            .chain(previous.split(',').map(str::trim).filter(|secret| !secret.is_empty()));
        Verifier::with_secrets(secrets).ok()
    }

    fn origin_url(&mut self) -> Option<String> {
        let Some(text) = self.text("ORIGIN_URL") else {
            self.problem("ORIGIN_URL", "not set");
            return None;
        };
        let Ok(url) = WhatwgUrl::parse(&text) else {
            self.problem("ORIGIN_URL", "not a URL");
            return None;
        };
        let insecure_allowed = self.text("ALLOW_INSECURE_ORIGIN").as_deref() == Some("true");
        match url.protocol().as_str() {
            "https:" => Some(url.href()),
            "http:" if insecure_allowed => Some(url.href()),
            "http:" => {
                self.problem(
                    "ORIGIN_URL",
                    "must be https (set ALLOW_INSECURE_ORIGIN=true for local work)",
                );
                None
            }
            _ => {
                self.problem("ORIGIN_URL", "must be an https URL");
                None
            }
        }
    }

    /// A non-empty, trimmed string variable or secret.
    fn text(&self, name: &str) -> Option<String> {
        let value = self.env.var(name).ok()?.to_string();
        let value = value.trim();
        (!value.is_empty()).then(|| value.to_string())
    }

    fn optional_number(&mut self, name: &'static str) -> Option<u64> {
        let text = self.text(name)?;
        text.parse().map_err(|_| self.problem(name, "not a whole number")).ok()
    }

    fn number(&mut self, name: &'static str, default: u64) -> u64 {
        self.optional_number(name).unwrap_or(default)
    }

    fn problem(&mut self, variable: &'static str, reason: &'static str) {
        self.problems.push(Problem { variable, reason });
    }
}

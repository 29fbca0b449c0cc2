//! The `threetone-webhooks` verifier as a WebAssembly component: the world
//! `threetone:webhooks/verifier` of `wit/verifier.wit`.
//!
//! Thin bindings: every rule (signature format, event shapes, error codes,
//! freshness) is the core crate's; this file only converts between the core's
//! types and the WIT ones. The component imports nothing (no WASI, no clock),
//! so it runs in any component host. `cargo xtask component` builds it.

use threetone_webhooks::{Error, ErrorRecord, Freshness, Options, ValidEvent};

use exports::threetone::webhooks::webhooks::{self as wit, Guest, GuestVerifier};

wit_bindgen::generate!({
    world: "verifier",
    path: "wit",
});

/// The component's exports.
struct Component;

export!(Component);

impl Guest for Component {
    type Verifier = Verifier;

    fn parse_event(body: Vec<u8>, options: wit::Options) -> Result<wit::Event, wit::Error> {
        let event = threetone_webhooks::validate_event(&body, &core_options(options));
        event.map(|event| wit_event(&event, &body)).map_err(wit_error)
    }
}

/// The `verifier` resource: a core [`threetone_webhooks::Verifier`].
struct Verifier(threetone_webhooks::Verifier);

impl Verifier {
    /// The resource handle for a verifier the core built, or its error.
    // The WIT's error record, as the interface returns it.
    #[allow(clippy::result_large_err)]
    fn handle(
        built: Result<threetone_webhooks::Verifier, threetone_webhooks::VerifyError>,
    ) -> Result<wit::Verifier, wit::Error> {
        built.map(|verifier| wit::Verifier::new(Self(verifier))).map_err(wit_error)
    }
}

impl GuestVerifier for Verifier {
    fn new(secret: Vec<u8>) -> Result<wit::Verifier, wit::Error> {
        Self::handle(threetone_webhooks::Verifier::new(secret))
    }

    fn with_secrets(secrets: Vec<Vec<u8>>) -> Result<wit::Verifier, wit::Error> {
        Self::handle(threetone_webhooks::Verifier::with_secrets(secrets))
    }

    fn sign(&self, body: Vec<u8>) -> String {
        self.0.sign(&body)
    }

    fn verify(&self, body: Vec<u8>, header: String) -> Result<(), wit::Error> {
        self.0.verify(&body, &header).map_err(wit_error)
    }

    fn construct_event(
        &self,
        body: Vec<u8>,
        header: String,
        options: wit::Options,
    ) -> Result<wit::Event, wit::Error> {
        let event = self.0.verify_event(&body, &header, &core_options(options));
        event.map(|event| wit_event(&event, &body)).map_err(wit_error)
    }
}

/// The core's options for the WIT ones (the same fields).
fn core_options(options: wit::Options) -> Options {
    Options {
        allow_unknown_events: options.allow_unknown_events,
        freshness: options.freshness.map(|freshness| Freshness {
            max_age_seconds: freshness.max_age_seconds,
            now_unix_seconds: freshness.now_unix_seconds,
        }),
    }
}

/// The WIT event: the envelope's summary and the whole event as JSON.
fn wit_event(event: &ValidEvent<'_>, body: &[u8]) -> wit::Event {
    wit::Event {
        event_type: event.event_name().into(),
        known: event.event_type().is_some(),
        timestamp: event.timestamp().as_str().into(),
        unix_seconds: event.timestamp().unix_seconds(),
        call_id: event.call_id().map(Into::into),
        // The body as sent: lossless by definition, and valid UTF-8 JSON
        // (validation checked it).
        json: String::from_utf8_lossy(body).into_owned(),
    }
}

/// The WIT error for any core error: the core's [`ErrorRecord`], field by field.
fn wit_error(error: impl Into<Error>) -> wit::Error {
    let ErrorRecord { code, status, message, path, expected, found, .. } =
        ErrorRecord::from(error.into());
    let invalid_field = match (path, expected, found) {
        (Some(path), Some(expected), Some(found)) => {
            Some(wit::InvalidField { path, expected, found })
        }
        _ => None,
    };
    wit::Error { code: code.as_str().into(), http_status: status, message, invalid_field }
}

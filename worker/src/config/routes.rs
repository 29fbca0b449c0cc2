//! `ROUTES`: the webhooks this Worker receives and where each one's events
//! go, as one JSON value (a string, or a TOML table in `[vars]`):
//!
//! ```json
//! [{ "path": "/webhooks/threetone",
//!    "secrets": ["WEBHOOK_SECRET", "WEBHOOK_SECRET_PREVIOUS"],
//!    "events": ["call_started", "call_ended"],
//!    "destinations": [
//!      { "name": "crm", "url": "https://crm.example.com/threetone", "events": ["call_started"],
//!        "signing_secret": "CRM_SIGNING_SECRET", "timeout_ms": 10000,
//!        "max_per_second": 50, "max_in_flight": 8 } ] }]
//! ```
//!
//! Secrets are named (each a binding of its own), never written here. Every
//! problem is reported with its JSON path; a route with an error answers 503
//! while the others keep working.

use serde_json::{Map, Value};
use threetone_webhooks::{EventType, Verifier};

use super::{Destination, Limits, Number, Reader, Route};
use crate::config::Environment;

/// `ROUTES` is set: every route of it, each checked on its own.
pub(super) fn read<E: Environment>(reader: &mut Reader<'_, E>, text: &str) -> Option<Vec<Route>> {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        reader.error(ROUTES, "not JSON (a JSON string, or a TOML table in [vars])");
        return None;
    };
    let Some(routes) = value.as_array().filter(|routes| !routes.is_empty()) else {
        reader.error_at(ROUTES, "$", "must be a non-empty array of routes");
        return None;
    };
    let mut walk = Walk { reader, errors: 0 };
    let mut read: Vec<Route> = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (index, route) in routes.iter().enumerate() {
        let path = format!("$[{index}]");
        let errors = walk.errors;
        let mut route = walk.route(&path, route);
        if read.iter().any(|other| other.path == route.path) {
            walk.error(&format!("{path}.path"), "another route has this path");
        }
        for (at, destination) in route.destinations.iter().enumerate() {
            if !names.insert(destination.name.clone()) {
                let at = format!("{path}.destinations[{at}].name");
                walk.error(
                    &at,
                    "another destination has this name (names are unique across routes)",
                );
            }
        }
        route.usable = route.usable && walk.errors == errors;
        read.push(route);
    }
    Some(read)
}

const ROUTES: &str = "ROUTES";

/// The keys a route and a destination may have: any other is a typo.
const ROUTE_KEYS: [&str; 4] = ["path", "secrets", "events", "destinations"];
const DESTINATION_KEYS: [&str; 7] =
    ["name", "url", "events", "signing_secret", "timeout_ms", "max_per_second", "max_in_flight"];

const MAX_PER_SECOND: Number = Number { name: "max_per_second", default: 0, min: 1, max: 10_000 };
const MAX_IN_FLIGHT: Number = Number { name: "max_in_flight", default: 0, min: 1, max: 1_000 };

/// Paths the Worker answers itself.
const RESERVED_PATHS: [&str; 8] =
    ["/health", "/logs", "/test", "/metrics", "/dashboard", "/replay", "/listen", "/dead-letters"];

struct Walk<'r, 'e, E> {
    reader: &'r mut Reader<'e, E>,
    errors: usize,
}

impl<E: Environment> Walk<'_, '_, E> {
    fn error(&mut self, path: &str, reason: &str) {
        self.errors += 1;
        self.reader.error_at(ROUTES, path, reason);
    }

    fn object<'v>(
        &mut self,
        path: &str,
        value: &'v Value,
        keys: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(object) = value.as_object() else {
            self.error(path, "must be an object");
            return None;
        };
        for key in object.keys().filter(|key| !keys.contains(&key.as_str())) {
            self.error(
                &format!("{path}.{key}"),
                &format!("unknown field (expected one of {})", keys.join(", ")),
            );
        }
        Some(object)
    }

    fn string(&mut self, path: &str, value: Option<&Value>) -> Option<String> {
        match value {
            Some(Value::String(text)) if !text.trim().is_empty() => Some(text.trim().to_string()),
            Some(_) => {
                self.error(path, "must be a non-empty string");
                None
            }
            None => {
                self.error(path, "required");
                None
            }
        }
    }

    fn route(&mut self, path: &str, value: &Value) -> Route {
        let mut route = Route::unusable(String::new());
        let Some(object) = self.object(path, value, &ROUTE_KEYS) else { return route };
        let at = |key: &str| format!("{path}.{key}");
        if let Some(route_path) = self.string(&at("path"), object.get("path")) {
            if !route_path.starts_with('/') {
                self.error(&at("path"), "must start with /");
            } else if RESERVED_PATHS.iter().any(|reserved| is_under(&route_path, reserved))
                || is_under(&route_path, "/destinations")
            {
                self.error(&at("path"), "is one of the Worker's own paths");
            }
            route.path = route_path;
        }
        route.verifier = self.secrets(&at("secrets"), object.get("secrets"));
        route.events = self.events(&at("events"), object.get("events"));
        match object.get("destinations").and_then(Value::as_array) {
            Some(destinations) if !destinations.is_empty() => {
                for (index, destination) in destinations.iter().enumerate() {
                    let destination_path = format!("{path}.destinations[{index}]");
                    if let Some(destination) = self.destination(&destination_path, destination) {
                        route.destinations.push(destination);
                    }
                }
            }
            _ => self.error(&at("destinations"), "must be a non-empty array of destinations"),
        }
        route.usable = route.verifier.is_some();
        route
    }

    /// The route's verifier: each name a secret binding, the current one first.
    fn secrets(&mut self, path: &str, value: Option<&Value>) -> Option<Verifier> {
        let Some(names) = value.and_then(Value::as_array).filter(|names| !names.is_empty()) else {
            self.error(path, "must be a non-empty array of secret binding names");
            return None;
        };
        let mut secrets = Vec::new();
        for (index, name) in names.iter().enumerate() {
            let at = format!("{path}[{index}]");
            let Some(name) = self.string(&at, Some(name)) else { continue };
            match self.reader.secret_named(&name, &at) {
                Some(secret) => secrets.push(secret),
                None => self.error(
                    &at,
                    &format!("no secret is bound to {name} (wrangler secret put {name})"),
                ),
            }
        }
        if secrets.len() < names.len() {
            return None;
        }
        Verifier::with_secrets(&secrets).ok()
    }

    /// An event filter: known event type names; absent means every event.
    fn events(&mut self, path: &str, value: Option<&Value>) -> Option<Vec<String>> {
        let value = value?;
        let Some(names) = value.as_array().filter(|names| !names.is_empty()) else {
            self.error(path, "must be a non-empty array of event types");
            return None;
        };
        let mut events = Vec::new();
        for (index, name) in names.iter().enumerate() {
            let at = format!("{path}[{index}]");
            let Some(name) = self.string(&at, Some(name)) else { continue };
            if EventType::from_name(&name).is_none() {
                self.error(&at, &format!("{name:?} is not an event type"));
            }
            events.push(name);
        }
        Some(events)
    }

    fn destination(&mut self, path: &str, value: &Value) -> Option<Destination> {
        let errors = self.errors;
        let object = self.object(path, value, &DESTINATION_KEYS)?;
        let at = |key: &str| format!("{path}.{key}");
        let name = self.string(&at("name"), object.get("name"));
        if let Some(name) = &name
            && !is_destination_name(name)
        {
            self.error(&at("name"), "must be 1 to 64 of a-z, 0-9, - and _");
        }
        let url = self.string(&at("url"), object.get("url")).and_then(|url| {
            self.reader.url(&url).map_err(|reason| self.error(&at("url"), reason)).ok()
        });
        let events = self.events(&at("events"), object.get("events"));
        let signer = object.get("signing_secret").and_then(|name| {
            let name = self.string(&at("signing_secret"), Some(name))?;
            match self.reader.secret_named(&name, &at("signing_secret")) {
                Some(secret) => Verifier::new(secret).ok(),
                None => {
                    self.error(
                        &at("signing_secret"),
                        &format!("no secret is bound to {name} (wrangler secret put {name})"),
                    );
                    None
                }
            }
        });
        let timeout_ms = match object.get("timeout_ms") {
            None => self.reader.default_timeout_ms,
            Some(value) => self.number(&at("timeout_ms"), value, &super::ORIGIN_TIMEOUT_MS)?,
        };
        let limit = |walk: &mut Self, key: &str, number: &Number| match object.get(key) {
            None => Some(None),
            Some(value) => walk.number(&at(key), value, number).map(|n| Some(n as u32)),
        };
        let max_per_second = limit(self, "max_per_second", &MAX_PER_SECOND)?;
        let max_in_flight = limit(self, "max_in_flight", &MAX_IN_FLIGHT)?;
        let (Some(name), Some(url)) = (name, url) else { return None };
        (self.errors == errors).then_some(Destination {
            name,
            url,
            events,
            signer,
            timeout_ms,
            limits: Limits { max_per_second, max_in_flight },
        })
    }

    /// A whole number in `number`'s range (out of it: an error, as for any
    /// typo in `ROUTES`).
    fn number(&mut self, path: &str, value: &Value, number: &Number) -> Option<u64> {
        match value.as_u64() {
            Some(value) if (number.min..=number.max).contains(&value) => Some(value),
            _ => {
                self.error(
                    path,
                    &format!("must be a whole number from {} to {}", number.min, number.max),
                );
                None
            }
        }
    }
}

/// Whether `path` is `prefix` or below it.
fn is_under(path: &str, prefix: &str) -> bool {
    path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

/// Names go into admin paths (`/destinations/<name>/pause`) and metric labels.
fn is_destination_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'))
}

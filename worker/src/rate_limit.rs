//! Flood protection: requests that fail verification are counted per client
//! address in a fixed window, one Durable Object per address. Past the limit
//! the address gets 429. Only failures are counted, so verified traffic is
//! never limited.
//!
//! An address found over its limit is also remembered in this isolate until
//! its window ends, so a flood costs no Durable Object call per request.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use worker::{Date, DurableObject, Env, Request, Response, Result, State, durable_object};

use crate::idempotency::{integer, now_plus};
use crate::rpc;

const BINDING: &str = "FAILURES";
/// Addresses remembered per isolate; beyond it the oldest are dropped.
const LOCAL_CAPACITY: usize = 10_000;

thread_local! {
    /// Address -> end of its limited window (ms since epoch).
    static LIMITED: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
}

/// The verdict on a failed verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Over the limit: answer 429.
    pub limited: bool,
    /// Seconds until the window ends.
    pub retry_after_seconds: u64,
}

#[derive(Serialize, Deserialize)]
struct Limit {
    max_failures: u64,
    window_ms: u64,
}

/// The one row of an object's table.
#[derive(Deserialize)]
struct Window {
    start_ms: u64,
    failures: u64,
}

/// Records a failed verification from `client` and says whether it is limited.
pub async fn record_failure(
    env: &Env,
    client: &str,
    max_failures: u64,
    window_seconds: u64,
) -> Result<Verdict> {
    let now = Date::now().as_millis();
    let known_until = LIMITED.with(|limited| limited.borrow().get(client).copied());
    if let Some(until) = known_until.filter(|&until| until > now) {
        return Ok(Verdict { limited: true, retry_after_seconds: (until - now).div_ceil(1000) });
    }
    let limit = Limit { max_failures, window_ms: window_seconds * 1000 };
    let verdict: Verdict = rpc::call(env, BINDING, client, "fail", &limit).await?;
    if verdict.limited {
        LIMITED.with(|limited| {
            let mut limited = limited.borrow_mut();
            if limited.len() >= LOCAL_CAPACITY {
                limited.retain(|_, until| *until > now);
            }
            if limited.len() < LOCAL_CAPACITY {
                limited.insert(client.to_string(), now + verdict.retry_after_seconds * 1000);
            }
        });
    }
    Ok(verdict)
}

/// Failed verifications of one address in the current window.
#[durable_object(alarm)]
pub struct FailureCounter {
    state: State,
}

impl DurableObject for FailureCounter {
    fn new(state: State, _env: Env) -> Self {
        // Errors here surface on the first query instead.
        let _ = state.storage().sql().exec(
            "CREATE TABLE IF NOT EXISTS failure_window (id INTEGER PRIMARY KEY CHECK (id = 0), \
             start_ms INTEGER NOT NULL, failures INTEGER NOT NULL)",
            None,
        );
        Self { state }
    }

    async fn fetch(&self, _: Request) -> Result<Response> {
        rpc::not_http()
    }

    async fn alarm(&self) -> Result<Response> {
        self.state.storage().delete_all().await?;
        Response::empty()
    }
}

rpc::object_method!(FailureCounter);

impl FailureCounter {
    async fn answer(&self, action: &str, body: &str) -> Result<String> {
        if action != "fail" {
            return Err(rpc::unknown_action(action));
        }
        let Limit { max_failures, window_ms } = rpc::body(body)?;
        let storage = self.state.storage();
        let sql = storage.sql();
        let now = Date::now().as_millis();
        let stored = sql
            .exec("SELECT start_ms, failures FROM failure_window", None)?
            .to_array::<Window>()?
            .pop();
        let window = match stored {
            Some(window) if now < window.start_ms + window_ms => {
                Window { failures: window.failures + 1, ..window }
            }
            _ => Window { start_ms: now, failures: 1 },
        };
        let end = window.start_ms + window_ms;
        let verdict = Verdict {
            limited: window.failures > max_failures,
            retry_after_seconds: (end - now).div_ceil(1000).max(1),
        };
        sql.exec(
            "INSERT INTO failure_window (id, start_ms, failures) VALUES (0, ?, ?) ON CONFLICT (id) \
             DO UPDATE SET start_ms = excluded.start_ms, failures = excluded.failures",
            vec![integer(window.start_ms), integer(window.failures)],
        )?;
        storage.set_alarm(now_plus(end, 0)).await?;
        rpc::answer(&verdict)
    }
}

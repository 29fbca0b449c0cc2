//! Flood protection: requests that fail verification are counted per client
//! address (an IPv6 one by its /64) in a fixed window, one Durable Object
//! per address. Past the limit the address gets 429. Only failures are
//! counted, so verified traffic is never limited. Failed admin logins count
//! the same way, in a budget of their own.
//!
//! An address found over its limit is also remembered in this isolate until
//! its window ends, so a flood costs no Durable Object call per request.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use worker::{Date, DurableObject, Env, Request, Response, Result, State, durable_object};

use crate::config::Config;
use crate::rpc;
use crate::sql::{alarm_in, integer};

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

/// How many failures a budget allows per window.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Limit {
    max_failures: u64,
    window_ms: u64,
}

impl Limit {
    /// `RATE_LIMIT_FAILURES` per `RATE_LIMIT_WINDOW_SECONDS`.
    pub fn of(config: &Config) -> Self {
        Self {
            max_failures: config.rate_limit_failures,
            window_ms: config.rate_limit_window_seconds.saturating_mul(1000),
        }
    }
}

/// A call to a budget's object.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FailureRequest {
    /// Counts a failure; the verdict after it.
    Fail(Limit),
    /// The verdict, counting nothing.
    Peek(Limit),
}

/// The one row of an object's table.
#[derive(Deserialize)]
struct Window {
    start_ms: u64,
    failures: u64,
}

impl Window {
    fn verdict(&self, limit: Limit, now: u64) -> Verdict {
        let end = self.start_ms.saturating_add(limit.window_ms);
        Verdict {
            limited: now < end && self.failures > limit.max_failures,
            retry_after_seconds: end.saturating_sub(now).div_ceil(1000).max(1),
        }
    }
}

/// The end of `budget`'s limited window, if this isolate has seen it limited.
fn known_limited(budget: &str, now: u64) -> Option<Verdict> {
    let until = LIMITED.with(|limited| limited.borrow().get(budget).copied())?;
    (until > now)
        .then(|| Verdict { limited: true, retry_after_seconds: (until - now).div_ceil(1000) })
}

/// Remembers in this isolate that `budget` is limited, so a flood costs no
/// Durable Object call per request.
fn remember(budget: &str, verdict: Verdict, now: u64) {
    if !verdict.limited {
        return;
    }
    LIMITED.with(|limited| {
        let mut limited = limited.borrow_mut();
        if limited.len() >= LOCAL_CAPACITY {
            limited.retain(|_, until| *until > now);
        }
        if limited.len() < LOCAL_CAPACITY {
            limited.insert(budget.to_string(), now + verdict.retry_after_seconds * 1000);
        }
    });
}

/// Records a failure against `budget` (a client address, see
/// [`client_key`](crate::keys::client_key)) and says whether it is limited.
pub async fn record_failure(env: &Env, budget: &str, limit: Limit) -> Result<Verdict> {
    let now = Date::now().as_millis();
    if let Some(verdict) = known_limited(budget, now) {
        return Ok(verdict);
    }
    let verdict: Verdict = rpc::call(env, BINDING, budget, &FailureRequest::Fail(limit)).await?;
    remember(budget, verdict, now);
    Ok(verdict)
}

/// Whether `budget` is limited, without counting a failure.
pub async fn peek(env: &Env, budget: &str, limit: Limit) -> Result<Verdict> {
    let now = Date::now().as_millis();
    if let Some(verdict) = known_limited(budget, now) {
        return Ok(verdict);
    }
    let verdict: Verdict = rpc::call(env, BINDING, budget, &FailureRequest::Peek(limit)).await?;
    remember(budget, verdict, now);
    Ok(verdict)
}

/// The failures of one budget in the current window.
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

rpc::object_method!(FailureCounter, FailureRequest);

impl FailureCounter {
    async fn answer(&self, request: FailureRequest) -> Result<Verdict> {
        let storage = self.state.storage();
        let sql = storage.sql();
        let now = Date::now().as_millis();
        match request {
            // One statement: a failure in the current window counts, one
            // after it starts a new window. A failure costs one row write;
            // the alarm that clears the object is set once per window.
            FailureRequest::Fail(limit) => {
                let window: Window = sql
                    .exec(
                        "INSERT INTO failure_window (id, start_ms, failures) VALUES (0, ?1, 1) \
                         ON CONFLICT (id) DO UPDATE SET \
                         failures = CASE WHEN ?1 < start_ms + ?2 THEN failures + 1 ELSE 1 END, \
                         start_ms = CASE WHEN ?1 < start_ms + ?2 THEN start_ms ELSE ?1 END \
                         RETURNING start_ms, failures",
                        vec![integer(now), integer(limit.window_ms)],
                    )?
                    .one()?;
                if window.start_ms == now {
                    storage.set_alarm(alarm_in(limit.window_ms)).await?;
                }
                Ok(window.verdict(limit, now))
            }
            FailureRequest::Peek(limit) => {
                let stored = sql
                    .exec("SELECT start_ms, failures FROM failure_window", None)?
                    .to_array::<Window>()?
                    .pop();
                let window = stored.unwrap_or(Window { start_ms: now, failures: 0 });
                Ok(window.verdict(limit, now))
            }
        }
    }
}

//! Idempotency: each event (keyed by its signature digest, which is the same
//! for every redelivery of the same body) gets its own Durable Object, so
//! claims on one event are strongly consistent and never contend with others.
//!
//! - first claim: `Acquired`, the event is in flight for a lease;
//! - a claim while in flight (lease not expired): `InFlight` (503, retry later);
//! - a claim after delivery: `Duplicate` (200 without a second forward);
//! - a failed delivery releases the key, so the sender's retry is forwarded.
//!
//! Every write re-arms an alarm that deletes the entry after the TTL.

use serde::{Deserialize, Serialize};
use worker::{Date, DurableObject, Env, Request, Response, Result, State, durable_object};

use crate::rpc;

const BINDING: &str = "IDEMPOTENCY";
const ENTRY: &str = "entry";

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Claim {
    /// This request delivers the event; `attempt` counts deliveries seen, from 1.
    Acquired { attempt: u32 },
    /// Another request is delivering it now.
    InFlight,
    /// Already delivered.
    Duplicate { attempt: u32 },
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum Entry {
    InFlight { since_ms: u64, attempts: u32 },
    Failed { attempts: u32 },
    Delivered { attempts: u32 },
}

#[derive(Serialize, Deserialize)]
struct Timing {
    lease_ms: u64,
    ttl_ms: u64,
}

/// Claims `key` for delivery.
pub async fn claim(env: &Env, key: &str, lease_ms: u64, ttl_ms: u64) -> Result<Claim> {
    rpc::call(env, BINDING, key, "claim", &Timing { lease_ms, ttl_ms }).await
}

/// Marks `key` delivered.
pub async fn complete(env: &Env, key: &str, ttl_ms: u64) -> Result<()> {
    rpc::call(env, BINDING, key, "complete", &Timing { lease_ms: 0, ttl_ms }).await
}

/// Releases `key` after a failed delivery.
pub async fn release(env: &Env, key: &str, ttl_ms: u64) -> Result<()> {
    rpc::call(env, BINDING, key, "release", &Timing { lease_ms: 0, ttl_ms }).await
}

/// One event's delivery state.
#[durable_object(alarm)]
pub struct IdempotencyStore {
    state: State,
}

impl DurableObject for IdempotencyStore {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, request: Request) -> Result<Response> {
        let (action, Timing { lease_ms, ttl_ms }) = rpc::action(request).await?;
        let storage = self.state.storage();
        let now = Date::now().as_millis();
        let entry: Option<Entry> = storage.get(ENTRY).await?;
        let attempts = match &entry {
            Some(
                Entry::InFlight { attempts, .. }
                | Entry::Failed { attempts }
                | Entry::Delivered { attempts },
            ) => *attempts,
            None => 0,
        };
        let (next, answer) = match action.as_str() {
            "claim" => match entry {
                Some(Entry::Delivered { .. }) => (
                    Entry::Delivered { attempts: attempts + 1 },
                    serde_json::to_value(Claim::Duplicate { attempt: attempts + 1 })?,
                ),
                Some(Entry::InFlight { since_ms, .. })
                    if now < since_ms.saturating_add(lease_ms) =>
                {
                    (
                        Entry::InFlight { since_ms, attempts: attempts + 1 },
                        serde_json::to_value(Claim::InFlight)?,
                    )
                }
                _ => (
                    Entry::InFlight { since_ms: now, attempts: attempts + 1 },
                    serde_json::to_value(Claim::Acquired { attempt: attempts + 1 })?,
                ),
            },
            "complete" => (Entry::Delivered { attempts }, serde_json::Value::Null),
            "release" => (Entry::Failed { attempts }, serde_json::Value::Null),
            other => return rpc::unknown_action(other),
        };
        storage.put(ENTRY, next).await?;
        storage.set_alarm(now_plus(now, ttl_ms)).await?;
        Response::from_json(&answer)
    }

    async fn alarm(&self) -> Result<Response> {
        self.state.storage().delete_all().await?;
        Response::empty()
    }
}

/// An alarm time `ttl_ms` after `now`, as the runtime expects (ms since epoch).
pub fn now_plus(now: u64, ttl_ms: u64) -> i64 {
    i64::try_from(now.saturating_add(ttl_ms)).unwrap_or(i64::MAX)
}

//! Idempotency: every redelivery of an event carries the same signature
//! digest, which is the event's key. Keys are spread over 16 Durable Objects
//! (by the digest's last hex digit): each key always lands in the same object,
//! so claims on it are strongly consistent, and the objects stay warm instead
//! of one cold object per event.
//!
//! - first claim: `Acquired`, the event is in flight for a lease;
//! - a claim while in flight (lease not expired): `InFlight` (503, retry later);
//! - a claim after delivery: `Duplicate` (200 without a second forward);
//! - a failed delivery releases the key, so the sender's retry is forwarded.
//!
//! Entries live in one SQLite table per object; an alarm deletes expired ones.

use serde::{Deserialize, Serialize};
use worker::{
    Date, DurableObject, Env, Request, Response, Result, SqlStorageValue, State, durable_object,
};

use crate::rpc;

const BINDING: &str = "IDEMPOTENCY";
/// How often an object sweeps its expired entries.
const SWEEP_INTERVAL_MS: u64 = 15 * 60 * 1000;

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
struct Call {
    key: String,
    lease_ms: u64,
    ttl_ms: u64,
}

/// One row of the table.
#[derive(Deserialize)]
struct Entry {
    state: String,
    since_ms: u64,
    attempts: u32,
}

const IN_FLIGHT: &str = "in_flight";
const FAILED: &str = "failed";
const DELIVERED: &str = "delivered";

/// Claims `key` (a verified signature header) for delivery.
pub async fn claim(env: &Env, key: &str, lease_ms: u64, ttl_ms: u64) -> Result<Claim> {
    call(env, "claim", key, lease_ms, ttl_ms).await
}

/// Marks `key` delivered.
pub async fn complete(env: &Env, key: &str, ttl_ms: u64) -> Result<()> {
    call(env, "complete", key, 0, ttl_ms).await
}

/// Releases `key` after a failed delivery.
pub async fn release(env: &Env, key: &str, ttl_ms: u64) -> Result<()> {
    call(env, "release", key, 0, ttl_ms).await
}

async fn call<R: serde::de::DeserializeOwned>(
    env: &Env,
    action: &str,
    key: &str,
    lease_ms: u64,
    ttl_ms: u64,
) -> Result<R> {
    // The digest's last hex digit: 16 shards, evenly loaded (keys may carry a prefix).
    let shard = key.get(key.len().saturating_sub(1)..).unwrap_or("0");
    let name = format!("shard-{shard}");
    rpc::call(env, BINDING, &name, action, &Call { key: key.into(), lease_ms, ttl_ms }).await
}

/// The delivery state of the events of one shard.
#[durable_object(alarm)]
pub struct IdempotencyStore {
    state: State,
}

impl DurableObject for IdempotencyStore {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        // Errors here surface on the first query instead.
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS deliveries (key TEXT PRIMARY KEY, state TEXT NOT NULL, \
             since_ms INTEGER NOT NULL, attempts INTEGER NOT NULL, expires_ms INTEGER NOT NULL)",
            None,
        );
        let _ = sql
            .exec("CREATE INDEX IF NOT EXISTS deliveries_expiry ON deliveries (expires_ms)", None);
        Self { state }
    }

    async fn fetch(&self, request: Request) -> Result<Response> {
        let (action, Call { key, lease_ms, ttl_ms }) = rpc::action(request).await?;
        let storage = self.state.storage();
        let sql = storage.sql();
        let now = Date::now().as_millis();
        // Reading and writing without an await in between: no other request
        // of this object runs in the meantime.
        let entry = sql
            .exec(
                // An expired entry counts as absent, swept or not.
                "SELECT state, since_ms, attempts FROM deliveries WHERE key = ? AND expires_ms > ?",
                vec![key.clone().into(), integer(now)],
            )?
            .to_array::<Entry>()?
            .pop();
        let attempts = entry.as_ref().map_or(0, |entry| entry.attempts);
        let (state, since_ms, attempts, answer) = match (action.as_str(), entry) {
            ("claim", Some(entry)) if entry.state == DELIVERED => (
                DELIVERED,
                entry.since_ms,
                attempts + 1,
                Some(Claim::Duplicate { attempt: attempts + 1 }),
            ),
            ("claim", Some(entry))
                if entry.state == IN_FLIGHT && now < entry.since_ms.saturating_add(lease_ms) =>
            {
                (IN_FLIGHT, entry.since_ms, attempts + 1, Some(Claim::InFlight))
            }
            ("claim", _) => {
                (IN_FLIGHT, now, attempts + 1, Some(Claim::Acquired { attempt: attempts + 1 }))
            }
            ("complete", _) => (DELIVERED, now, attempts, None),
            ("release", _) => (FAILED, now, attempts, None),
            (other, _) => return rpc::unknown_action(other),
        };
        sql.exec(
            "INSERT INTO deliveries (key, state, since_ms, attempts, expires_ms) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (key) DO UPDATE SET state = excluded.state, since_ms = excluded.since_ms, \
             attempts = excluded.attempts, expires_ms = excluded.expires_ms",
            vec![
                key.into(),
                state.into(),
                integer(since_ms),
                SqlStorageValue::Integer(i64::from(attempts)),
                integer(now.saturating_add(ttl_ms)),
            ],
        )?;
        if storage.get_alarm().await?.is_none() {
            storage.set_alarm(now_plus(now, SWEEP_INTERVAL_MS)).await?;
        }
        match answer {
            Some(claim) => Response::from_json(&claim),
            None => Response::from_json(&()),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        let storage = self.state.storage();
        let sql = storage.sql();
        let now = Date::now().as_millis();
        sql.exec("DELETE FROM deliveries WHERE expires_ms <= ?", vec![integer(now)])?;
        #[derive(Deserialize)]
        struct Remaining {
            remaining: u64,
        }
        let Remaining { remaining } =
            sql.exec("SELECT COUNT(*) AS remaining FROM deliveries", None)?.one()?;
        if remaining > 0 {
            storage.set_alarm(now_plus(now, SWEEP_INTERVAL_MS)).await?;
        }
        Response::empty()
    }
}

fn integer(value: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(i64::try_from(value).unwrap_or(i64::MAX))
}

/// An alarm time `ttl_ms` after `now`, as the runtime expects (ms since epoch).
pub fn now_plus(now: u64, ttl_ms: u64) -> i64 {
    i64::try_from(now.saturating_add(ttl_ms)).unwrap_or(i64::MAX)
}

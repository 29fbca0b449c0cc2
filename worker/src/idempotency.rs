//! Idempotency: an event's key is the SHA-256 of its body
//! ([`EventKey`](crate::keys::EventKey)), the same at every redelivery and
//! under any secret. Keys are spread over 16 Durable Objects (by the
//! digest's last hex digit): each key always lands in the same object,
//! so claims on it are strongly consistent, and the objects stay warm instead
//! of one cold object per event.
//!
//! - first claim: `Acquired`, the event is in flight for a lease;
//! - a claim while in flight (lease not expired): `InFlight` (503, retry later);
//! - a claim after delivery: `Duplicate` (200 without a second forward);
//! - a failed delivery releases the key, so the sender's retry is forwarded.
//!
//! A claim is settled ([`Settlement`]) together with the delivery-log entry of
//! the request, in one call sent before the answer leaves the edge: the answer
//! does not wait for it, and the shard, which takes its calls in order, has
//! settled the key before a redelivery can claim it again.
//!
//! Entries live in one SQLite table per object; an alarm deletes expired ones.
//! Each object also keeps the delivery log of its events ([`delivery_log`]).

use std::cell::Cell;

use serde::{Deserialize, Serialize};
use worker::{
    Date, DurableObject, Env, Request, Response, Result, SqlStorage, SqlStorageValue, State,
    durable_object,
};

use crate::delivery_log::{self, Delivery, Logged};
use crate::{keys, rpc};

const BINDING: &str = "IDEMPOTENCY";
/// How often an object sweeps its expired entries.
const SWEEP_INTERVAL_MS: u64 = 15 * 60 * 1000;

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    /// This request delivers the event; `attempt` counts deliveries seen, from 1.
    Acquired { attempt: u32 },
    /// Another request is delivering it now.
    InFlight,
    /// Already delivered.
    Duplicate { attempt: u32 },
}

/// How the delivery of an acquired key ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settlement {
    pub key: String,
    /// Delivered: a redelivery is a duplicate. Not delivered: the key is
    /// released and a redelivery is forwarded.
    pub delivered: bool,
    /// How long the key is remembered from now.
    pub ttl_ms: u64,
}

/// The body of a `claim`.
#[derive(Serialize, Deserialize)]
struct ClaimCall {
    key: String,
    lease_ms: u64,
    ttl_ms: u64,
}

/// The body of a `record`: a settlement, a delivery-log entry, or both.
#[derive(Serialize, Deserialize)]
struct RecordCall {
    settlement: Option<Settlement>,
    /// A [`Delivery`] as JSON: the shard stores it as it is.
    delivery: Option<String>,
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

/// Claims `key` (an event's key) for delivery.
pub async fn claim(env: &Env, key: &str, lease_ms: u64, ttl_ms: u64) -> Result<Claim> {
    let call = ClaimCall { key: key.into(), lease_ms, ttl_ms };
    rpc::call(env, BINDING, &shard_of(key), "claim", &call).await
}

/// Records, in the shard of `key`, a settlement and a delivery-log entry.
pub async fn record(
    env: &Env,
    key: &str,
    settlement: Option<Settlement>,
    delivery: Option<Delivery>,
) -> Result<()> {
    let delivery = delivery.map(|delivery| serde_json::to_string(&delivery)).transpose()?;
    let call = RecordCall { settlement, delivery };
    rpc::call(env, BINDING, &shard_of(key), "record", &call).await
}

/// The delivery logs of all shards.
pub async fn logs(env: &Env) -> Result<Vec<Logged>> {
    // One after another: an admin request, where the few milliseconds of
    // each call cost less than the joining machinery costs the upload.
    let mut logged = Vec::new();
    for digit in keys::SHARDS.chars() {
        let list: Vec<Logged> = rpc::call(env, BINDING, &name(digit), "list", &()).await?;
        logged.extend(list);
    }
    Ok(logged)
}

fn shard_of(key: &str) -> String {
    name(keys::shard_of(key))
}

fn name(digit: char) -> String {
    format!("shard-{digit}")
}

/// The delivery state of the events of one shard, and their delivery log.
#[durable_object(alarm)]
pub struct IdempotencyStore {
    state: State,
    /// Whether a sweep is scheduled, once known: saves a storage read per call.
    sweep_scheduled: Cell<bool>,
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
        delivery_log::create_table(&sql);
        Self { state, sweep_scheduled: Cell::new(false) }
    }

    async fn fetch(&self, _: Request) -> Result<Response> {
        rpc::not_http()
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
        self.sweep_scheduled.set(remaining > 0);
        if remaining > 0 {
            storage.set_alarm(now_plus(now, SWEEP_INTERVAL_MS)).await?;
        }
        Response::empty()
    }
}

rpc::object_method!(IdempotencyStore);

impl IdempotencyStore {
    async fn answer(&self, action: &str, body: &str) -> Result<String> {
        let sql = self.state.storage().sql();
        let now = Date::now().as_millis();
        // Each call reads and writes without an await in between: no other
        // call of this object runs in the meantime.
        let answer = match action {
            "claim" => {
                let ClaimCall { key, lease_ms, ttl_ms } = rpc::body(body)?;
                rpc::answer(&claim_in(&sql, now, key, lease_ms, ttl_ms)?)
            }
            "record" => {
                let RecordCall { settlement, delivery } = rpc::body(body)?;
                if let Some(settlement) = settlement {
                    settle_in(&sql, now, settlement)?;
                }
                if let Some(delivery) = delivery {
                    delivery_log::append(&sql, now, delivery)?;
                }
                rpc::answer(&())
            }
            "list" => return rpc::answer(&delivery_log::list(&sql)?),
            other => return Err(rpc::unknown_action(other)),
        };
        self.schedule_sweep(now).await?;
        answer
    }

    async fn schedule_sweep(&self, now: u64) -> Result<()> {
        if self.sweep_scheduled.get() {
            return Ok(());
        }
        let storage = self.state.storage();
        if storage.get_alarm().await?.is_none() {
            storage.set_alarm(now_plus(now, SWEEP_INTERVAL_MS)).await?;
        }
        self.sweep_scheduled.set(true);
        Ok(())
    }
}

fn claim_in(sql: &SqlStorage, now: u64, key: String, lease_ms: u64, ttl_ms: u64) -> Result<Claim> {
    let entry = entry(sql, &key, now)?;
    let attempt = entry.as_ref().map_or(0, |entry| entry.attempts) + 1;
    let (state, since_ms, claim) = match entry {
        Some(entry) if entry.state == DELIVERED => {
            (DELIVERED, entry.since_ms, Claim::Duplicate { attempt })
        }
        Some(entry)
            if entry.state == IN_FLIGHT && now < entry.since_ms.saturating_add(lease_ms) =>
        {
            (IN_FLIGHT, entry.since_ms, Claim::InFlight)
        }
        _ => (IN_FLIGHT, now, Claim::Acquired { attempt }),
    };
    upsert(sql, key, state, since_ms, attempt, now.saturating_add(ttl_ms))?;
    Ok(claim)
}

/// One statement: the attempts counted by the claims stay, unless the entry
/// expired meanwhile (then it counts as absent, as in [`entry`]).
fn settle_in(sql: &SqlStorage, now: u64, settlement: Settlement) -> Result<()> {
    let state = if settlement.delivered { DELIVERED } else { FAILED };
    sql.exec(
        "INSERT INTO deliveries (key, state, since_ms, attempts, expires_ms) VALUES (?1, ?2, ?3, 0, ?4) \
         ON CONFLICT (key) DO UPDATE SET state = excluded.state, since_ms = excluded.since_ms, \
         attempts = CASE WHEN deliveries.expires_ms > ?3 THEN deliveries.attempts ELSE 0 END, \
         expires_ms = excluded.expires_ms",
        vec![
            settlement.key.into(),
            state.into(),
            integer(now),
            integer(now.saturating_add(settlement.ttl_ms)),
        ],
    )?;
    Ok(())
}

/// The entry of `key`; an expired entry counts as absent, swept or not.
fn entry(sql: &SqlStorage, key: &str, now: u64) -> Result<Option<Entry>> {
    Ok(sql
        .exec(
            "SELECT state, since_ms, attempts FROM deliveries WHERE key = ? AND expires_ms > ?",
            vec![key.into(), integer(now)],
        )?
        .to_array::<Entry>()?
        .pop())
}

fn upsert(
    sql: &SqlStorage,
    key: String,
    state: &str,
    since_ms: u64,
    attempts: u32,
    expires_ms: u64,
) -> Result<()> {
    sql.exec(
        "INSERT INTO deliveries (key, state, since_ms, attempts, expires_ms) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (key) DO UPDATE SET state = excluded.state, since_ms = excluded.since_ms, \
         attempts = excluded.attempts, expires_ms = excluded.expires_ms",
        vec![
            key.into(),
            state.into(),
            integer(since_ms),
            SqlStorageValue::Integer(i64::from(attempts)),
            integer(expires_ms),
        ],
    )?;
    Ok(())
}

pub fn integer(value: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(i64::try_from(value).unwrap_or(i64::MAX))
}

/// An alarm time `ttl_ms` after `now`, as the runtime expects (ms since epoch).
pub fn now_plus(now: u64, ttl_ms: u64) -> i64 {
    i64::try_from(now.saturating_add(ttl_ms)).unwrap_or(i64::MAX)
}

//! A destination's state, in one Durable Object per destination: which
//! events it has (idempotency per event and destination), its deliveries
//! under way, its circuit breaker, whether it is paused, and its delivery
//! log. The object takes its calls one at a time, so each decision
//! ([`admission`](crate::admission)) sees every delivery before it.
//!
//! A claim is made before forwarding; how the delivery ended is settled
//! together with its log entry, in one call sent before the answer leaves
//! the edge (not awaited): the object has settled the key before a
//! redelivery can claim it again. Entries expire after the idempotency
//! TTL; an alarm sweeps them.

use std::cell::{Cell, RefCell};

use serde::{Deserialize, Serialize};
use worker::{
    Date, DurableObject, Env, Request, Response, Result, SqlStorage, State, durable_object,
};

use crate::admission::{
    self, Breaker, Claim, Claiming, Control, Ending, Entry, EntryState, RateWindow, Transition,
};
use crate::config::{BreakerPolicy, Limits};
use crate::delivery_log::{self, Kept, LogEntry, Logged};
use crate::metrics::{DestinationMetrics, Histogram, LATENCY_BUCKETS_MS};
use crate::rpc;
use crate::sql::{alarm_in, integer};

const BINDING: &str = "DESTINATIONS";
/// How often an object sweeps its expired entries.
const SWEEP_INTERVAL_MS: u64 = 15 * 60 * 1000;

/// A call to a destination's object.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationRequest {
    /// Claims `key` for delivery; with `gate`, only if the destination may
    /// take a delivery now (queue-mode acceptances are not gated).
    /// `on_duplicate`: the log entry to keep if the event turns out a
    /// duplicate, so a duplicate costs this one call.
    Claim {
        key: String,
        lease_ms: u64,
        ttl_ms: u64,
        gate: Option<Gate>,
        on_duplicate: Option<Box<DuplicateLog>>,
    },
    /// Records an attempt: its settlement if it acquired the delivery, its
    /// log entry and counts.
    Record { settlement: Option<Settlement>, recording: Recording },
    /// Pauses or resumes the destination.
    SetPaused { paused: bool },
    /// Its delivery log.
    Logs,
    /// Its figures, for `/metrics`.
    Metrics,
}

/// How the delivery of `key` ended; with `breaker`, it counts toward it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settlement {
    pub key: String,
    pub ending: Ending,
    pub ttl_ms: u64,
    pub breaker: Option<BreakerPolicy>,
}

/// What every attempt leaves: its log entry, and what it adds to the counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recording {
    /// A [`LogEntry`](crate::delivery_log::LogEntry) as JSON, kept as it is.
    pub entry: String,
    /// The delivery-log status, counted in `threetone_edge_deliveries_total`.
    pub status: String,
    /// How long the destination took to answer, when it was called.
    pub latency_ms: Option<u64>,
    pub pending: Pending,
}

/// How an attempt changes queue mode's deliveries not yet done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pending {
    Unchanged,
    /// Accepted into the queue: pending since now.
    Added {
        key_digest: Digest,
    },
    /// Delivered or dead-lettered from the queue: done.
    Removed {
        key_digest: Digest,
    },
}

/// An event key's first 16 bytes, as the pending table keeps them.
pub type Digest = u64;

/// What a duplicate's log entry says (the object adds how many claims came before).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DuplicateLog {
    pub event: String,
    pub call_id: Option<String>,
    pub request_id: String,
    pub route: String,
    pub destination: String,
    pub delivery_id: String,
    pub archive_key: Option<String>,
    pub started_ms: u64,
}

impl DuplicateLog {
    fn entry(&self, attempt: u32, now: u64) -> LogEntry {
        let logged = Logged {
            event: &self.event,
            call_id: self.call_id.as_deref(),
            request_id: &self.request_id,
            route: &self.route,
        };
        let mut entry = LogEntry::new(&logged, "duplicate", 200, self.started_ms, now);
        entry.retry_count = Some(attempt.saturating_sub(1));
        entry.destination = Some(self.destination.clone());
        entry.delivery_id = Some(self.delivery_id.clone());
        entry.archive_key.clone_from(&self.archive_key);
        entry
    }
}

/// What gates a delivery: the destination's caps and breaker.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Gate {
    pub limits: Limits,
    pub breaker: BreakerPolicy,
}

/// The answers, one kind per request.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationAnswer {
    Claimed(Claim),
    Recorded(Option<Transition>),
    /// Whether the pause state changed.
    Paused(bool),
    Logs(Vec<Kept>),
    Metrics(Box<DestinationMetrics>),
}

async fn call(
    env: &Env,
    destination: &str,
    request: &DestinationRequest,
) -> Result<DestinationAnswer> {
    rpc::call(env, BINDING, destination, request).await
}

/// Claims the delivery of `key` to `destination`.
pub async fn claim(
    env: &Env,
    destination: &str,
    key: &str,
    lease_ms: u64,
    ttl_ms: u64,
    gate: Option<Gate>,
    on_duplicate: Option<DuplicateLog>,
) -> Result<Claim> {
    let on_duplicate = on_duplicate.map(Box::new);
    let request =
        DestinationRequest::Claim { key: key.into(), lease_ms, ttl_ms, gate, on_duplicate };
    match call(env, destination, &request).await? {
        DestinationAnswer::Claimed(claim) => Ok(claim),
        _ => Err(rpc::unexpected(BINDING)),
    }
}

/// Records an attempt at `destination`; a change of its breaker, if any.
pub async fn record(
    env: &Env,
    destination: &str,
    settlement: Option<Settlement>,
    recording: Recording,
) -> Result<Option<Transition>> {
    match call(env, destination, &DestinationRequest::Record { settlement, recording }).await? {
        DestinationAnswer::Recorded(transition) => Ok(transition),
        _ => Err(rpc::unexpected(BINDING)),
    }
}

/// The figures of `destination` (its name and dead letters left to the caller).
pub async fn metrics(env: &Env, destination: &str) -> Result<DestinationMetrics> {
    match call(env, destination, &DestinationRequest::Metrics).await? {
        DestinationAnswer::Metrics(metrics) => Ok(*metrics),
        _ => Err(rpc::unexpected(BINDING)),
    }
}

/// Pauses (or resumes) `destination`; whether that changed anything.
pub async fn set_paused(env: &Env, destination: &str, paused: bool) -> Result<bool> {
    match call(env, destination, &DestinationRequest::SetPaused { paused }).await? {
        DestinationAnswer::Paused(changed) => Ok(changed),
        _ => Err(rpc::unexpected(BINDING)),
    }
}

/// The delivery log of `destination`.
pub async fn logs(env: &Env, destination: &str) -> Result<Vec<Kept>> {
    match call(env, destination, &DestinationRequest::Logs).await? {
        DestinationAnswer::Logs(kept) => Ok(kept),
        _ => Err(rpc::unexpected(BINDING)),
    }
}

/// The state of one destination.
#[durable_object(alarm)]
pub struct DestinationStore {
    state: State,
    /// Paused and breaker, once read from storage.
    control: RefCell<Option<Control>>,
    window: Cell<RateWindow>,
    /// Whether a sweep is scheduled, once known: saves a storage read per call.
    sweep_scheduled: Cell<bool>,
}

impl DurableObject for DestinationStore {
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
        let _ = sql.exec(
            "CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state, since_ms)",
            None,
        );
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS control (id INTEGER PRIMARY KEY CHECK (id = 0), state TEXT NOT NULL)",
            None,
        );
        let _ = sql.exec(&counts_table(), None);
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS pending (key INTEGER PRIMARY KEY, since_ms INTEGER NOT NULL)",
            None,
        );
        delivery_log::create_table(&sql);
        Self {
            state,
            control: RefCell::new(None),
            window: Cell::new(RateWindow::default()),
            sweep_scheduled: Cell::new(false),
        }
    }

    async fn fetch(&self, _: Request) -> Result<Response> {
        rpc::not_http()
    }

    async fn alarm(&self) -> Result<Response> {
        let storage = self.state.storage();
        let sql = storage.sql();
        let now = Date::now().as_millis();
        sql.exec("DELETE FROM deliveries WHERE expires_ms <= ?", vec![integer(now)])?;
        fold_counts(&sql, now)?;
        #[derive(Deserialize)]
        struct Remaining {
            remaining: u64,
        }
        let Remaining { remaining } =
            sql.exec("SELECT COUNT(*) AS remaining FROM deliveries", None)?.one()?;
        self.sweep_scheduled.set(remaining > 0);
        if remaining > 0 {
            storage.set_alarm(alarm_in(SWEEP_INTERVAL_MS)).await?;
        }
        Response::empty()
    }
}

rpc::object_method!(DestinationStore, DestinationRequest);

impl DestinationStore {
    async fn answer(&self, request: DestinationRequest) -> Result<DestinationAnswer> {
        let sql = self.state.storage().sql();
        let now = Date::now().as_millis();
        // Each call reads and writes without an await in between: no other
        // call of this object runs in the meantime.
        let answer = match request {
            DestinationRequest::Claim { key, lease_ms, ttl_ms, gate, on_duplicate } => {
                let entry = entry(&sql, &key, now)?;
                // Ungated: no caps, and a closed breaker nothing opens.
                let gated = gate.is_some();
                let gate = gate.unwrap_or_default();
                let in_flight = match gate.limits.max_in_flight {
                    Some(_) => in_flight(&sql, now, lease_ms)?,
                    None => 0,
                };
                let control = if gated { self.control(&sql)? } else { Control::default() };
                let claimed = admission::claim(&Claiming {
                    entry: entry.as_ref(),
                    control,
                    window: self.window.get(),
                    in_flight,
                    now_ms: now,
                    lease_ms,
                    limits: gate.limits,
                    breaker: gate.breaker,
                });
                if let Some(written) = &claimed.entry {
                    upsert(&sql, &key, written, now.saturating_add(ttl_ms))?;
                }
                if let (Claim::Duplicate { attempt }, Some(log)) = (claimed.claim, on_duplicate) {
                    delivery_log::append(
                        &sql,
                        now,
                        &serde_json::to_string(&log.entry(attempt, now))?,
                    )?;
                    count_in(&sql, now, "duplicate", None)?;
                }
                if gated {
                    self.window.set(claimed.window);
                    if claimed.control != control {
                        self.store_control(&sql, claimed.control)?;
                    }
                }
                DestinationAnswer::Claimed(claimed.claim)
            }
            DestinationRequest::Record { settlement, recording } => {
                let mut transition = None;
                if let Some(Settlement { key, ending, ttl_ms, breaker }) = settlement {
                    settle_in(&sql, &key, admission::ended(ending), now, ttl_ms)?;
                    if let Some(policy) = breaker {
                        let control = self.control(&sql)?;
                        let (breaker, change) =
                            admission::settle(control.breaker, ending, policy, now);
                        if breaker != control.breaker {
                            self.store_control(&sql, Control { breaker, ..control })?;
                        }
                        transition = change;
                    }
                }
                delivery_log::append(&sql, now, &recording.entry)?;
                count_in(&sql, now, &recording.status, recording.latency_ms)?;
                match recording.pending {
                    Pending::Unchanged => {}
                    Pending::Added { key_digest } => {
                        sql.exec(
                            "INSERT OR IGNORE INTO pending (key, since_ms) VALUES (?, ?)",
                            vec![integer(key_digest), integer(now)],
                        )?;
                    }
                    Pending::Removed { key_digest } => {
                        sql.exec("DELETE FROM pending WHERE key = ?", vec![integer(key_digest)])?;
                    }
                }
                DestinationAnswer::Recorded(transition)
            }
            DestinationRequest::SetPaused { paused } => {
                let control = self.control(&sql)?;
                let changed = control.paused != paused;
                if changed {
                    self.store_control(&sql, Control { paused, ..control })?;
                }
                return Ok(DestinationAnswer::Paused(changed));
            }
            DestinationRequest::Logs => {
                return Ok(DestinationAnswer::Logs(delivery_log::list(&sql)?));
            }
            DestinationRequest::Metrics => {
                let control = self.control(&sql)?;
                let consecutive_failures = match control.breaker {
                    Breaker::Closed { failures } => failures,
                    _ => 0,
                };
                let metrics = DestinationMetrics {
                    breaker: control.breaker.name().into(),
                    consecutive_failures,
                    paused: control.paused,
                    in_flight: u64::from(in_flight(&sql, now, u64::MAX)?),
                    ..metrics_in(&sql, now)?
                };
                return Ok(DestinationAnswer::Metrics(Box::new(metrics)));
            }
        };
        self.schedule_sweep().await?;
        Ok(answer)
    }

    /// Paused and breaker: from memory, or from storage the first time.
    fn control(&self, sql: &SqlStorage) -> Result<Control> {
        if let Some(control) = *self.control.borrow() {
            return Ok(control);
        }
        #[derive(Deserialize)]
        struct Row {
            state: String,
        }
        let stored = sql.exec("SELECT state FROM control", None)?.to_array::<Row>()?.pop();
        let control = match stored {
            Some(row) => serde_json::from_str(&row.state)?,
            None => Control::default(),
        };
        *self.control.borrow_mut() = Some(control);
        Ok(control)
    }

    fn store_control(&self, sql: &SqlStorage, control: Control) -> Result<()> {
        sql.exec(
            "INSERT INTO control (id, state) VALUES (0, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state",
            vec![serde_json::to_string(&control)?.into()],
        )?;
        *self.control.borrow_mut() = Some(control);
        Ok(())
    }

    async fn schedule_sweep(&self) -> Result<()> {
        if self.sweep_scheduled.get() {
            return Ok(());
        }
        let storage = self.state.storage();
        if storage.get_alarm().await?.is_none() {
            storage.set_alarm(alarm_in(SWEEP_INTERVAL_MS)).await?;
        }
        self.sweep_scheduled.set(true);
        Ok(())
    }
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

/// Deliveries under way: in flight, and claimed less than `lease_ms` ago
/// (queue-mode acceptances, keyed `accept:...`, are not deliveries).
fn in_flight(sql: &SqlStorage, now: u64, lease_ms: u64) -> Result<u32> {
    #[derive(Deserialize)]
    struct Count {
        count: u32,
    }
    let Count { count } = sql
        .exec(
            "SELECT COUNT(*) AS count FROM deliveries WHERE state = 'in_flight' AND since_ms > ? \
             AND key NOT LIKE 'accept:%'",
            vec![integer(now.saturating_sub(lease_ms))],
        )?
        .one()?;
    Ok(count)
}

/// One statement: the entry takes the ended `state`; the attempts counted
/// by the claims stay, unless the entry expired meanwhile (then it counts as
/// absent, as in [`entry`]).
fn settle_in(sql: &SqlStorage, key: &str, state: EntryState, now: u64, ttl_ms: u64) -> Result<()> {
    sql.exec(
        "INSERT INTO deliveries (key, state, since_ms, attempts, expires_ms) VALUES (?1, ?2, ?3, 1, ?4) \
         ON CONFLICT (key) DO UPDATE SET state = excluded.state, since_ms = excluded.since_ms, \
         attempts = CASE WHEN deliveries.expires_ms > ?3 THEN deliveries.attempts ELSE 1 END, \
         expires_ms = excluded.expires_ms",
        vec![key.into(), state_name(state).into(), integer(now), integer(now.saturating_add(ttl_ms))],
    )?;
    Ok(())
}

/// An entry state as stored.
fn state_name(state: EntryState) -> &'static str {
    match state {
        EntryState::InFlight => "in_flight",
        EntryState::Failed => "failed",
        EntryState::Delivered => "delivered",
    }
}

fn upsert(sql: &SqlStorage, key: &str, entry: &Entry, expires_ms: u64) -> Result<()> {
    sql.exec(
        "INSERT INTO deliveries (key, state, since_ms, attempts, expires_ms) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (key) DO UPDATE SET state = excluded.state, since_ms = excluded.since_ms, \
         attempts = excluded.attempts, expires_ms = excluded.expires_ms",
        vec![
            key.into(),
            state_name(entry.state).into(),
            integer(entry.since_ms),
            integer(u64::from(entry.attempts)),
            integer(expires_ms),
        ],
    )?;
    Ok(())
}

/// Counts by minute (for the dashboard's chart) and status; minute 0 holds
/// the counts folded in from minutes older than [`KEPT_MINUTES`], so the
/// sums never go down. `within_<bucket>` columns count durations up to each
/// bound of [`LATENCY_BUCKETS_MS`].
fn counts_table() -> String {
    let buckets: String = LATENCY_BUCKETS_MS
        .iter()
        .map(|bound| format!(", within_{bound} INTEGER NOT NULL DEFAULT 0"))
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS counts (minute INTEGER NOT NULL, status TEXT NOT NULL, \
         count INTEGER NOT NULL DEFAULT 0, timed INTEGER NOT NULL DEFAULT 0, \
         duration_ms INTEGER NOT NULL DEFAULT 0{buckets}, PRIMARY KEY (minute, status))"
    )
}

/// Minutes the dashboard's chart shows.
const SERIES_MINUTES: u64 = 3 * 60;

/// Minutes of counts kept one by one: the dashboard shows the last hours.
const KEPT_MINUTES: u64 = 48 * 60;

/// Counts one attempt (one statement).
fn count_in(sql: &SqlStorage, now: u64, status: &str, latency_ms: Option<u64>) -> Result<()> {
    thread_local! {
        static STATEMENT: String = {
            let columns: String = LATENCY_BUCKETS_MS.iter().map(|bound| format!(", within_{bound}")).collect();
            let values: String = LATENCY_BUCKETS_MS.iter().map(|bound| format!(", coalesce(?4 <= {bound}, 0)")).collect();
            let updates: String = LATENCY_BUCKETS_MS
                .iter()
                .map(|bound| format!(", within_{bound} = within_{bound} + excluded.within_{bound}"))
                .collect();
            format!(
                "INSERT INTO counts (minute, status, count, timed, duration_ms{columns}) \
                 VALUES (?1, ?2, 1, ?3, coalesce(?4, 0){values}) \
                 ON CONFLICT (minute, status) DO UPDATE SET count = count + 1, timed = timed + excluded.timed, \
                 duration_ms = duration_ms + excluded.duration_ms{updates}"
            )
        };
    }
    let minute = now / 60_000;
    let timed = integer(u64::from(latency_ms.is_some()));
    let latency = latency_ms.map_or(worker::SqlStorageValue::Null, integer);
    STATEMENT.with(|statement| {
        sql.exec(statement, vec![integer(minute), status.into(), timed, latency])
    })?;
    Ok(())
}

/// Folds minutes older than [`KEPT_MINUTES`] into minute 0 (in the sweep).
fn fold_counts(sql: &SqlStorage, now: u64) -> Result<()> {
    let oldest = (now / 60_000).saturating_sub(KEPT_MINUTES).max(1);
    let columns: String =
        LATENCY_BUCKETS_MS.iter().map(|bound| format!(", within_{bound}")).collect();
    let sums: String =
        LATENCY_BUCKETS_MS.iter().map(|bound| format!(", SUM(within_{bound})")).collect();
    let updates: String = LATENCY_BUCKETS_MS
        .iter()
        .map(|bound| format!(", within_{bound} = within_{bound} + excluded.within_{bound}"))
        .collect();
    sql.exec(
        &format!(
            "INSERT INTO counts (minute, status, count, timed, duration_ms{columns}) \
             SELECT 0, status, SUM(count), SUM(timed), SUM(duration_ms){sums} FROM counts \
             WHERE minute > 0 AND minute < ?1 GROUP BY status \
             ON CONFLICT (minute, status) DO UPDATE SET count = count + excluded.count, \
             timed = timed + excluded.timed, duration_ms = duration_ms + excluded.duration_ms{updates}"
        ),
        vec![integer(oldest)],
    )?;
    sql.exec("DELETE FROM counts WHERE minute > 0 AND minute < ?", vec![integer(oldest)])?;
    Ok(())
}

/// The counts, the duration histogram and the pending deliveries.
fn metrics_in(sql: &SqlStorage, now: u64) -> Result<DestinationMetrics> {
    #[derive(Deserialize)]
    struct ByStatus {
        status: String,
        count: u64,
    }
    let deliveries: Vec<ByStatus> = sql
        .exec(
            "SELECT status, SUM(count) AS count FROM counts GROUP BY status ORDER BY status",
            None,
        )?
        .to_array()?;
    #[derive(Deserialize)]
    struct Sum {
        sum: u64,
    }
    let sum = |column: &str| -> Result<u64> {
        let Sum { sum } = sql
            .exec(&format!("SELECT coalesce(SUM({column}), 0) AS sum FROM counts"), None)?
            .one()?;
        Ok(sum)
    };
    let latency = Histogram {
        cumulative: LATENCY_BUCKETS_MS
            .iter()
            .map(|bound| sum(&format!("within_{bound}")))
            .collect::<Result<_>>()?,
        count: sum("timed")?,
        sum_ms: sum("duration_ms")?,
    };
    #[derive(Deserialize)]
    struct PendingRow {
        queued: u64,
        oldest_ms: Option<u64>,
    }
    let pending: PendingRow = sql
        .exec("SELECT COUNT(*) AS queued, MIN(since_ms) AS oldest_ms FROM pending", None)?
        .one()?;
    #[derive(Deserialize)]
    struct Minute {
        minute: u64,
        delivered: u64,
        failed: u64,
    }
    let series: Vec<Minute> = sql
        .exec(
            "SELECT minute, SUM(CASE WHEN status = 'success' THEN count ELSE 0 END) AS delivered, \
             SUM(CASE WHEN status IN ('failed', 'retrying', 'dead_lettered', 'rejected') THEN count ELSE 0 END) AS failed \
             FROM counts WHERE minute >= ? GROUP BY minute ORDER BY minute",
            vec![integer((now / 60_000).saturating_sub(SERIES_MINUTES))],
        )?
        .to_array()?;
    Ok(DestinationMetrics {
        series: series.into_iter().map(|row| [row.minute, row.delivered, row.failed]).collect(),
        deliveries: deliveries.into_iter().map(|row| (row.status, row.count)).collect(),
        latency,
        queued: pending.queued,
        oldest_pending_seconds: pending
            .oldest_ms
            .map_or(0, |oldest| now.saturating_sub(oldest) / 1000),
        ..DestinationMetrics::default()
    })
}

//! Replays: archived events sent again to the destinations a selection
//! names, through the same delivery path, marked `X-ThreeTone-Edge-Replay: 1`.
//! One Durable Object runs them from its alarm, `REPLAY_PER_SECOND` events
//! a second, so a replay never floods a destination (its caps, breaker and
//! pause still apply: a held delivery waits for the next round). Each
//! replay claims keys of its own, so it sends each event once more to each
//! selected destination, however often its rounds run.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use worker::{Date, DurableObject, Env, Request, Response, Result, State, durable_object};

use crate::deliver::{self, Recorded};
use crate::delivery_log::Logged;
use crate::event::Authentic;
use crate::outcome::DeliveryOutcome;
use crate::sql::{alarm_in, integer};
use crate::{archive, rpc, runtime, selection};

const BINDING: &str = "REPLAYS";
const NAME: &str = "replays";

/// The progress of a replay, as `/replay` answers it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Progress {
    pub id: String,
    /// `running` or `done`.
    pub state: String,
    /// Events selected, and deliveries (event and destination) to make.
    pub events: u64,
    pub deliveries: u64,
    pub delivered: u64,
    pub failed: u64,
    /// Events no longer in the archive (past its retention).
    pub missing: u64,
    pub remaining: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ReplayCall {
    /// Starts replay `id`: each archive key with the destinations to send it to.
    Start {
        id: String,
        items: Vec<(String, Vec<String>)>,
    },
    Progress {
        id: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ReplayAnswer {
    Progress(Option<Progress>),
}

async fn call(env: &Env, request: &ReplayCall) -> Result<Option<Progress>> {
    let ReplayAnswer::Progress(progress) = rpc::call(env, BINDING, NAME, request).await?;
    Ok(progress)
}

/// Starts a replay; its progress.
pub async fn start(
    env: &Env,
    id: String,
    items: Vec<(String, Vec<String>)>,
) -> Result<Option<Progress>> {
    call(env, &ReplayCall::Start { id, items }).await
}

/// The progress of replay `id`, if there is one.
pub async fn progress(env: &Env, id: &str) -> Result<Option<Progress>> {
    call(env, &ReplayCall::Progress { id: id.into() }).await
}

/// The replays and what is left of them.
#[durable_object(alarm)]
pub struct ReplayStore {
    state: State,
    env: Env,
}

impl DurableObject for ReplayStore {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        // Errors here surface on the first query instead.
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS replays (id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, \
             events INTEGER NOT NULL, deliveries INTEGER NOT NULL, delivered INTEGER NOT NULL DEFAULT 0, \
             failed INTEGER NOT NULL DEFAULT 0, missing INTEGER NOT NULL DEFAULT 0)",
            None,
        );
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS pending (replay TEXT NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL, \
             destination TEXT NOT NULL, PRIMARY KEY (replay, seq, destination))",
            None,
        );
        Self { state, env }
    }

    async fn fetch(&self, _: Request) -> Result<Response> {
        rpc::not_http()
    }

    async fn alarm(&self) -> Result<Response> {
        self.round().await?;
        Response::empty()
    }
}

rpc::object_method!(ReplayStore, ReplayCall);

#[derive(Deserialize)]
struct PendingRow {
    replay: String,
    seq: u64,
    key: String,
    destination: String,
}

impl ReplayStore {
    async fn answer(&self, request: ReplayCall) -> Result<ReplayAnswer> {
        let sql = self.state.storage().sql();
        let id = match request {
            ReplayCall::Start { id, items } => {
                let deliveries: usize =
                    items.iter().map(|(_, destinations)| destinations.len()).sum();
                sql.exec(
                    "INSERT INTO replays (id, created_ms, events, deliveries) VALUES (?, ?, ?, ?)",
                    vec![
                        id.as_str().into(),
                        integer(Date::now().as_millis()),
                        integer(items.len() as u64),
                        integer(deliveries as u64),
                    ],
                )?;
                for (seq, (key, destinations)) in items.into_iter().enumerate() {
                    for destination in destinations {
                        sql.exec(
                            "INSERT INTO pending (replay, seq, key, destination) VALUES (?, ?, ?, ?)",
                            vec![id.as_str().into(), integer(seq as u64), key.as_str().into(), destination.into()],
                        )?;
                    }
                }
                self.state.storage().set_alarm(alarm_in(0)).await?;
                id
            }
            ReplayCall::Progress { id } => id,
        };
        Ok(ReplayAnswer::Progress(self.progress(&id)?))
    }

    fn progress(&self, id: &str) -> Result<Option<Progress>> {
        let sql = self.state.storage().sql();
        #[derive(Deserialize)]
        struct Row {
            events: u64,
            deliveries: u64,
            delivered: u64,
            failed: u64,
            missing: u64,
            remaining: u64,
        }
        let row = sql
            .exec(
                "SELECT events, deliveries, delivered, failed, missing, \
                 (SELECT COUNT(*) FROM pending WHERE replay = replays.id) AS remaining FROM replays WHERE id = ?",
                vec![id.into()],
            )?
            .to_array::<Row>()?
            .pop();
        Ok(row.map(|row| Progress {
            id: id.into(),
            state: if row.remaining == 0 { "done" } else { "running" }.into(),
            events: row.events,
            deliveries: row.deliveries,
            delivered: row.delivered,
            failed: row.failed,
            missing: row.missing,
            remaining: row.remaining,
        }))
    }

    /// One round: the next `REPLAY_PER_SECOND` events' deliveries.
    async fn round(&self) -> Result<()> {
        let config = runtime::config(&self.env);
        let sql = self.state.storage().sql();
        let rows: Vec<PendingRow> = sql
            .exec(
                "SELECT replay, seq, key, destination FROM pending WHERE (replay, seq) IN \
                 (SELECT DISTINCT replay, seq FROM pending ORDER BY replay, seq LIMIT ?) ORDER BY replay, seq",
                vec![integer(u64::from(config.replay_per_second))],
            )?
            .to_array()?;
        let mut event: Option<(String, Option<Authentic>)> = None;
        for row in rows {
            if event.as_ref().is_none_or(|(key, _)| *key != row.key) {
                let fetched =
                    archive::fetch(&self.env, &row.key).await?.map(|(body, facts)| Authentic {
                        body,
                        signature: facts.signature,
                        content_type: facts.content_type,
                        event: facts.event,
                        call_id: facts.call_id,
                        invalid: None,
                        request_id: runtime::random_id(),
                        test: false,
                        route: facts.route,
                        timestamp_ms: selection::timestamp_of(&row.key).unwrap_or(0),
                        replay: Some(row.replay.clone()),
                    });
                event = Some((row.key.clone(), fetched));
            }
            let column = match (&event, config.destination(&row.destination)) {
                (Some((_, Some(authentic))), Some((_, destination))) => {
                    let started_ms = Date::now().as_millis();
                    let attempt =
                        deliver::deliver(authentic, destination, &config, &self.env).await;
                    if matches!(
                        attempt.outcome,
                        DeliveryOutcome::Held(_) | DeliveryOutcome::InFlight
                    ) {
                        continue; // the next round comes back to it
                    }
                    let logged = Logged {
                        event: &authentic.event,
                        call_id: authentic.call_id.as_deref(),
                        request_id: &authentic.request_id,
                        route: &authentic.route,
                    };
                    let recorded = Recorded { logged, status: None, started_ms, done: false };
                    let _ =
                        deliver::record(&self.env, &config, authentic, &attempt, recorded).await;
                    if let Some(result) = selection::result_of(attempt.outcome.log_status()) {
                        let results = vec![(attempt.destination.clone(), result)];
                        if let Err(error) =
                            archive::keep(&self.env, authentic, results, started_ms).await
                        {
                            worker::console_error!("archive: {error}");
                        }
                    }
                    if attempt.outcome.is_taken() { "delivered" } else { "failed" }
                }
                // Its destination left the configuration.
                (Some((_, Some(_))), None) => "failed",
                _ => "missing",
            };
            sql.exec(
                &format!("UPDATE replays SET {column} = {column} + 1 WHERE id = ?"),
                vec![row.replay.as_str().into()],
            )?;
            sql.exec(
                "DELETE FROM pending WHERE replay = ? AND seq = ? AND destination = ?",
                vec![row.replay.into(), integer(row.seq), row.destination.into()],
            )?;
        }
        #[derive(Deserialize)]
        struct Left {
            left: u64,
        }
        let Left { left } = sql.exec("SELECT COUNT(*) AS left FROM pending", None)?.one()?;
        if left > 0 {
            self.state
                .storage()
                .set_alarm(alarm_in(Duration::from_secs(1).as_millis() as u64))
                .await?;
        }
        Ok(())
    }
}

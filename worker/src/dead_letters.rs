//! Dead letters: queued events the consumer gave up on, kept whole (body
//! included) in one Durable Object so that `/logs` can list them (without
//! their bodies) and `/dead-letters/replay` can queue them again.

use serde::{Deserialize, Serialize};
use worker::{Date, DurableObject, Env, Request, Response, Result, State, durable_object};

use crate::queue::Queued;
use crate::rpc;

const BINDING: &str = "DEAD_LETTERS";
const NAME: &str = "all";

/// A dead letter as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    id: String,
    queued: Queued,
    error: String,
    at_ms: u64,
}

/// A dead letter as `/logs` shows it: never the body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub id: String,
    pub event: String,
    pub call_id: Option<String>,
    pub attempts: u32,
    pub error: String,
    pub dead_lettered_at_ms: u64,
}

/// The body of an `add`.
#[derive(Serialize, Deserialize)]
struct AddCall {
    queued: Queued,
    error: String,
}

/// The body of a `take`.
#[derive(Serialize, Deserialize)]
struct TakeCall {
    ids: Option<Vec<String>>,
}

/// Keeps a queued event the consumer gave up on.
pub async fn add(env: &Env, queued: &Queued, error: &str) -> Result<()> {
    rpc::call(env, BINDING, NAME, "add", &AddCall { queued: queued.clone(), error: error.into() })
        .await
}

/// All dead letters, oldest first.
pub async fn list(env: &Env) -> Result<Vec<Summary>> {
    rpc::call(env, BINDING, NAME, "list", &()).await
}

/// Removes and returns the dead letters named by `ids` (all if `None`).
pub async fn take(env: &Env, ids: Option<Vec<String>>) -> Result<Vec<Queued>> {
    rpc::call(env, BINDING, NAME, "take", &TakeCall { ids }).await
}

/// The store of dead letters.
#[durable_object(fetch)]
pub struct DeadLetterStore {
    state: State,
}

impl DurableObject for DeadLetterStore {
    fn new(state: State, _env: Env) -> Self {
        // Errors here surface on the first query instead.
        let _ = state.storage().sql().exec(
            "CREATE TABLE IF NOT EXISTS dead_letters (id TEXT PRIMARY KEY, stored TEXT NOT NULL)",
            None,
        );
        Self { state }
    }

    async fn fetch(&self, _: Request) -> Result<Response> {
        rpc::not_http()
    }
}

rpc::object_method!(DeadLetterStore);

impl DeadLetterStore {
    /// All dead letters, oldest first (ids are time-ordered).
    fn stored(&self) -> Result<Vec<Stored>> {
        #[derive(Deserialize)]
        struct Row {
            stored: String,
        }
        let rows: Vec<Row> = self
            .state
            .storage()
            .sql()
            .exec("SELECT stored FROM dead_letters ORDER BY id", None)?
            .to_array()?;
        // Stored as JSON text (bodies included, as byte arrays).
        Ok(rows.iter().filter_map(|row| serde_json::from_str(&row.stored).ok()).collect())
    }

    async fn answer(&self, action: &str, body: &str) -> Result<String> {
        let sql = self.state.storage().sql();
        match action {
            "add" => {
                let AddCall { queued, error } = rpc::body(body)?;
                let at_ms = Date::now().as_millis();
                // Time-ordered ids; the request id keeps them unique.
                let id = format!("{at_ms:015}-{}", queued.event.request_id);
                let stored = Stored { id: id.clone(), queued, error, at_ms };
                sql.exec(
                    "INSERT INTO dead_letters (id, stored) VALUES (?, ?)",
                    vec![id.into(), serde_json::to_string(&stored)?.into()],
                )?;
                rpc::answer(&())
            }
            "list" => {
                let summaries: Vec<Summary> = self
                    .stored()?
                    .into_iter()
                    .map(|stored| Summary {
                        id: stored.id,
                        event: stored.queued.event.event,
                        call_id: stored.queued.event.call_id,
                        attempts: stored.queued.attempts,
                        error: stored.error,
                        dead_lettered_at_ms: stored.at_ms,
                    })
                    .collect();
                rpc::answer(&summaries)
            }
            "take" => {
                let TakeCall { ids } = rpc::body(body)?;
                let taken: Vec<Stored> = self
                    .stored()?
                    .into_iter()
                    .filter(|stored| ids.as_ref().is_none_or(|ids| ids.contains(&stored.id)))
                    .collect();
                for stored in &taken {
                    sql.exec(
                        "DELETE FROM dead_letters WHERE id = ?",
                        vec![stored.id.as_str().into()],
                    )?;
                }
                rpc::answer(&taken.into_iter().map(|stored| stored.queued).collect::<Vec<_>>())
            }
            other => Err(rpc::unknown_action(other)),
        }
    }
}

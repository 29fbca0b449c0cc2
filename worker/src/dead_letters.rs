//! Dead letters: queued events the consumer gave up on, kept whole (body
//! included) in one Durable Object so that `/logs` can list them and
//! `/dead-letters/replay` can queue them again.
//!
//! Each letter's facts (event, call id, attempts, error, time) have columns
//! of their own: listing reads them alone, never a body, so a store of many
//! large letters lists in little memory. A replay reads one letter at a
//! time and deletes it only once the queue has taken it again.

use serde::{Deserialize, Serialize};
use worker::{
    Date, DurableObject, Env, Request, Response, Result, SqlStorage, State, durable_object,
};

use crate::idempotency::integer;
use crate::queue::Queued;
use crate::rpc;

const BINDING: &str = "DEAD_LETTERS";
const NAME: &str = "all";

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

/// Keeps a queued event the consumer gave up on.
pub async fn add(env: &Env, queued: &Queued, error: &str) -> Result<()> {
    rpc::call(env, BINDING, NAME, "add", &AddCall { queued: queued.clone(), error: error.into() })
        .await
}

/// All dead letters, oldest first, without their bodies.
pub async fn list(env: &Env) -> Result<Vec<Summary>> {
    rpc::call(env, BINDING, NAME, "list", &()).await
}

/// The letter `id`, body included, if it is still there.
pub async fn get(env: &Env, id: &str) -> Result<Option<Queued>> {
    rpc::call(env, BINDING, NAME, "get", &id).await
}

/// Removes the letter `id`.
pub async fn delete(env: &Env, id: &str) -> Result<()> {
    rpc::call(env, BINDING, NAME, "delete", &id).await
}

/// The store of dead letters.
#[durable_object(fetch)]
pub struct DeadLetterStore {
    state: State,
}

impl DurableObject for DeadLetterStore {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        // Errors here surface on the first query instead.
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS letters (id TEXT PRIMARY KEY, event TEXT NOT NULL, \
             call_id TEXT, attempts INTEGER NOT NULL, error TEXT NOT NULL, at_ms INTEGER NOT NULL, \
             queued TEXT NOT NULL)",
            None,
        );
        let _ = upgrade(&sql);
        Self { state }
    }

    async fn fetch(&self, _: Request) -> Result<Response> {
        rpc::not_http()
    }
}

/// Moves the letters of version 0.1 (one JSON text each, in `dead_letters`)
/// into `letters`, once.
fn upgrade(sql: &SqlStorage) -> Result<()> {
    #[derive(Deserialize)]
    struct Tables {
        tables: u64,
    }
    let Tables { tables } = sql
        .exec(
            "SELECT COUNT(*) AS tables FROM sqlite_master WHERE type = 'table' AND name = 'dead_letters'",
            None,
        )?
        .one()?;
    if tables == 0 {
        return Ok(());
    }
    sql.exec(
        "INSERT OR IGNORE INTO letters (id, event, call_id, attempts, error, at_ms, queued) \
         SELECT id, json_extract(stored, '$.queued.event.event'), \
         json_extract(stored, '$.queued.event.call_id'), json_extract(stored, '$.queued.attempts'), \
         json_extract(stored, '$.error'), json_extract(stored, '$.at_ms'), \
         json_extract(stored, '$.queued') FROM dead_letters",
        None,
    )?;
    sql.exec("DROP TABLE dead_letters", None)?;
    Ok(())
}

rpc::object_method!(DeadLetterStore);

impl DeadLetterStore {
    async fn answer(&self, action: &str, body: &str) -> Result<String> {
        let sql = self.state.storage().sql();
        match action {
            "add" => {
                let AddCall { queued, error } = rpc::body(body)?;
                let at_ms = Date::now().as_millis();
                // Time-ordered ids; the request id keeps them unique.
                let id = format!("{at_ms:015}-{}", queued.event.request_id);
                sql.exec(
                    "INSERT INTO letters (id, event, call_id, attempts, error, at_ms, queued) \
                     VALUES (?, ?, ?, ?, ?, ?, ?)",
                    vec![
                        id.into(),
                        queued.event.event.as_str().into(),
                        queued.event.call_id.as_deref().into(),
                        integer(u64::from(queued.attempts)),
                        error.into(),
                        integer(at_ms),
                        serde_json::to_string(&queued)?.into(),
                    ],
                )?;
                rpc::answer(&())
            }
            "list" => {
                let summaries: Vec<Summary> = sql
                    .exec(
                        "SELECT id, event, call_id, attempts, error, at_ms AS dead_lettered_at_ms \
                         FROM letters ORDER BY id",
                        None,
                    )?
                    .to_array()?;
                rpc::answer(&summaries)
            }
            "get" => {
                #[derive(Deserialize)]
                struct Row {
                    queued: String,
                }
                let id: String = rpc::body(body)?;
                let row = sql
                    .exec("SELECT queued FROM letters WHERE id = ?", vec![id.into()])?
                    .to_array::<Row>()?
                    .pop();
                let queued: Option<Queued> =
                    row.map(|row| serde_json::from_str(&row.queued)).transpose()?;
                rpc::answer(&queued)
            }
            "delete" => {
                let id: String = rpc::body(body)?;
                sql.exec("DELETE FROM letters WHERE id = ?", vec![id.into()])?;
                rpc::answer(&())
            }
            other => Err(rpc::unknown_action(other)),
        }
    }
}

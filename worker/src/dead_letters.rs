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

use crate::event::Queued;
use crate::rpc;
use crate::sql::integer;

const BINDING: &str = "DEAD_LETTERS";
const NAME: &str = "all";

/// A dead letter as `/logs` shows it: never the body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub id: String,
    pub event: String,
    pub call_id: Option<String>,
    pub destination: String,
    pub attempts: u32,
    pub error: String,
    pub dead_lettered_at_ms: u64,
}

/// A call to the store.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum DeadLetterRequest {
    Add {
        queued: Box<Queued>,
        error: String,
    },
    List,
    Get {
        id: String,
    },
    Delete {
        id: String,
    },
    /// How many letters each destination has.
    Counts,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum DeadLetterAnswer {
    Done,
    List(Vec<Summary>),
    Letter(Option<Box<Queued>>),
    Counts(Vec<(String, u64)>),
}

async fn call(env: &Env, request: &DeadLetterRequest) -> Result<DeadLetterAnswer> {
    rpc::call(env, BINDING, NAME, request).await
}

/// Keeps a queued delivery the consumer gave up on.
pub async fn add(env: &Env, queued: &Queued, error: &str) -> Result<()> {
    let request = DeadLetterRequest::Add { queued: Box::new(queued.clone()), error: error.into() };
    match call(env, &request).await? {
        DeadLetterAnswer::Done => Ok(()),
        _ => Err(rpc::unexpected(BINDING)),
    }
}

/// All dead letters, oldest first, without their bodies.
pub async fn list(env: &Env) -> Result<Vec<Summary>> {
    match call(env, &DeadLetterRequest::List).await? {
        DeadLetterAnswer::List(summaries) => Ok(summaries),
        _ => Err(rpc::unexpected(BINDING)),
    }
}

/// The letter `id`, body included, if it is still there.
pub async fn get(env: &Env, id: &str) -> Result<Option<Queued>> {
    match call(env, &DeadLetterRequest::Get { id: id.into() }).await? {
        DeadLetterAnswer::Letter(letter) => Ok(letter.map(|letter| *letter)),
        _ => Err(rpc::unexpected(BINDING)),
    }
}

/// How many dead letters each destination has.
pub async fn counts(env: &Env) -> Result<Vec<(String, u64)>> {
    match call(env, &DeadLetterRequest::Counts).await? {
        DeadLetterAnswer::Counts(counts) => Ok(counts),
        _ => Err(rpc::unexpected(BINDING)),
    }
}

/// Removes the letter `id`.
pub async fn delete(env: &Env, id: &str) -> Result<()> {
    match call(env, &DeadLetterRequest::Delete { id: id.into() }).await? {
        DeadLetterAnswer::Done => Ok(()),
        _ => Err(rpc::unexpected(BINDING)),
    }
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
             call_id TEXT, destination TEXT NOT NULL, attempts INTEGER NOT NULL, \
             error TEXT NOT NULL, at_ms INTEGER NOT NULL, queued TEXT NOT NULL)",
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
        "INSERT OR IGNORE INTO letters (id, event, call_id, destination, attempts, error, at_ms, queued) \
         SELECT id, json_extract(stored, '$.queued.event.event'), \
         json_extract(stored, '$.queued.event.call_id'), 'origin', json_extract(stored, '$.queued.attempts'), \
         json_extract(stored, '$.error'), json_extract(stored, '$.at_ms'), \
         json_extract(stored, '$.queued') FROM dead_letters",
        None,
    )?;
    sql.exec("DROP TABLE dead_letters", None)?;
    Ok(())
}

rpc::object_method!(DeadLetterStore, DeadLetterRequest);

impl DeadLetterStore {
    async fn answer(&self, request: DeadLetterRequest) -> Result<DeadLetterAnswer> {
        let sql = self.state.storage().sql();
        match request {
            DeadLetterRequest::Add { queued, error } => {
                let at_ms = Date::now().as_millis();
                // Time-ordered ids; the request id and destination keep them unique.
                let id = format!("{at_ms:015}-{}-{}", queued.event.request_id, queued.destination);
                sql.exec(
                    "INSERT INTO letters (id, event, call_id, destination, attempts, error, at_ms, queued) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    vec![
                        id.into(),
                        queued.event.event.as_str().into(),
                        queued.event.call_id.as_deref().into(),
                        queued.destination.as_str().into(),
                        integer(u64::from(queued.attempts)),
                        error.into(),
                        integer(at_ms),
                        serde_json::to_string(&queued)?.into(),
                    ],
                )?;
                Ok(DeadLetterAnswer::Done)
            }
            DeadLetterRequest::List => {
                let summaries: Vec<Summary> = sql
                    .exec(
                        "SELECT id, event, call_id, destination, attempts, error, \
                         at_ms AS dead_lettered_at_ms FROM letters ORDER BY id",
                        None,
                    )?
                    .to_array()?;
                Ok(DeadLetterAnswer::List(summaries))
            }
            DeadLetterRequest::Get { id } => {
                #[derive(Deserialize)]
                struct Row {
                    queued: String,
                }
                let row = sql
                    .exec("SELECT queued FROM letters WHERE id = ?", vec![id.into()])?
                    .to_array::<Row>()?
                    .pop();
                let queued = row.map(|row| serde_json::from_str(&row.queued)).transpose()?;
                Ok(DeadLetterAnswer::Letter(queued))
            }
            DeadLetterRequest::Counts => {
                #[derive(Deserialize)]
                struct Row {
                    destination: String,
                    count: u64,
                }
                let rows: Vec<Row> = sql
                    .exec(
                        "SELECT destination, COUNT(*) AS count FROM letters GROUP BY destination",
                        None,
                    )?
                    .to_array()?;
                Ok(DeadLetterAnswer::Counts(
                    rows.into_iter().map(|row| (row.destination, row.count)).collect(),
                ))
            }
            DeadLetterRequest::Delete { id } => {
                sql.exec("DELETE FROM letters WHERE id = ?", vec![id.into()])?;
                Ok(DeadLetterAnswer::Done)
            }
        }
    }
}

//! The log of the events a route received that reached no destination
//! (ignored by its filters, or rejected), one Durable Object per route.
//! Written after the answer, never on its way.

use serde::{Deserialize, Serialize};
use worker::{Date, DurableObject, Env, Request, Response, Result, State, durable_object};

use crate::delivery_log::{self, Kept, LogEntry};
use crate::rpc;

const BINDING: &str = "ROUTE_LOGS";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteLogRequest {
    /// A [`LogEntry`] as JSON, kept as it is.
    Log {
        entry: String,
    },
    Logs,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteLogAnswer {
    Logged,
    Logs(Vec<Kept>),
}

/// Logs `entry` in the log of `route`.
pub async fn log(env: &Env, route: &str, entry: LogEntry) -> Result<()> {
    match rpc::call(
        env,
        BINDING,
        route,
        &RouteLogRequest::Log { entry: serde_json::to_string(&entry)? },
    )
    .await?
    {
        RouteLogAnswer::Logged => Ok(()),
        RouteLogAnswer::Logs(_) => Err(rpc::unexpected(BINDING)),
    }
}

/// The log of `route`.
pub async fn logs(env: &Env, route: &str) -> Result<Vec<Kept>> {
    match rpc::call(env, BINDING, route, &RouteLogRequest::Logs).await? {
        RouteLogAnswer::Logs(kept) => Ok(kept),
        RouteLogAnswer::Logged => Err(rpc::unexpected(BINDING)),
    }
}

/// The log of one route.
#[durable_object(fetch)]
pub struct RouteLog {
    state: State,
}

impl DurableObject for RouteLog {
    fn new(state: State, _env: Env) -> Self {
        delivery_log::create_table(&state.storage().sql());
        Self { state }
    }

    async fn fetch(&self, _: Request) -> Result<Response> {
        rpc::not_http()
    }
}

rpc::object_method!(RouteLog, RouteLogRequest);

impl RouteLog {
    async fn answer(&self, request: RouteLogRequest) -> Result<RouteLogAnswer> {
        let sql = self.state.storage().sql();
        Ok(match request {
            RouteLogRequest::Log { entry } => {
                delivery_log::append(&sql, Date::now().as_millis(), &entry)?;
                RouteLogAnswer::Logged
            }
            RouteLogRequest::Logs => RouteLogAnswer::Logs(delivery_log::list(&sql)?),
        })
    }
}

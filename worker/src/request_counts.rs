//! Webhook requests by route and outcome: counted in each isolate's memory
//! and reported, within a second, to one Durable Object that adds them up.
//! No request waits for it, and a burst costs one call per second per
//! isolate, not one per request. (Deliveries are counted apart, exactly, by
//! their destinations' objects: see [`metrics`](crate::metrics).)

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use worker::{Delay, DurableObject, Env, Request, Response, Result, State, durable_object};

use crate::rpc;
use crate::sql::integer;

const BINDING: &str = "METRICS";
const NAME: &str = "requests";
/// How long an isolate keeps counts before it reports them.
const REPORT_AFTER: Duration = Duration::from_secs(1);

thread_local! {
    static COUNTED: RefCell<BTreeMap<(String, String), u64>> = const { RefCell::new(BTreeMap::new()) };
    static REPORT_SCHEDULED: Cell<bool> = const { Cell::new(false) };
}

/// Counts a request to `route` that ended in `outcome`; the report to
/// schedule (with `wait_until`) when this isolate has none scheduled yet.
pub fn count(env: &Env, route: &str, outcome: &str) -> Option<impl Future<Output = ()> + use<>> {
    COUNTED.with(|counted| {
        *counted.borrow_mut().entry((route.into(), outcome.into())).or_default() += 1
    });
    if REPORT_SCHEDULED.with(|scheduled| scheduled.replace(true)) {
        return None;
    }
    let env = env.clone();
    Some(async move {
        Delay::from(REPORT_AFTER).await;
        if let Err(error) = report(&env).await {
            worker::console_error!("request counts not reported: {error}");
        }
    })
}

/// Reports this isolate's counts now; kept for the next report if the store fails.
async fn report(env: &Env) -> Result<()> {
    REPORT_SCHEDULED.with(|scheduled| scheduled.set(false));
    let counted = COUNTED.with(|counted| std::mem::take(&mut *counted.borrow_mut()));
    if counted.is_empty() {
        return Ok(());
    }
    let counts: Vec<(String, String, u64)> =
        counted.iter().map(|((route, outcome), n)| (route.clone(), outcome.clone(), *n)).collect();
    match rpc::call::<_, CountsAnswer>(env, BINDING, NAME, &CountsRequest::Add(counts)).await {
        Ok(_) => Ok(()),
        Err(error) => {
            COUNTED.with(|kept| {
                let mut kept = kept.borrow_mut();
                for (key, n) in counted {
                    *kept.entry(key).or_default() += n;
                }
            });
            Err(error)
        }
    }
}

/// Every isolate's counts so far (this one's reported first).
pub async fn totals(env: &Env) -> Result<Vec<(String, String, u64)>> {
    report(env).await?;
    match rpc::call(env, BINDING, NAME, &CountsRequest::Totals).await? {
        CountsAnswer::Totals(totals) => Ok(totals),
        CountsAnswer::Added => Err(rpc::unexpected(BINDING)),
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum CountsRequest {
    Add(Vec<(String, String, u64)>),
    Totals,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum CountsAnswer {
    Added,
    Totals(Vec<(String, String, u64)>),
}

/// The requests' counts, added up.
#[durable_object(fetch)]
pub struct RequestCounts {
    state: State,
}

impl DurableObject for RequestCounts {
    fn new(state: State, _env: Env) -> Self {
        // Errors here surface on the first query instead.
        let _ = state.storage().sql().exec(
            "CREATE TABLE IF NOT EXISTS requests (route TEXT NOT NULL, outcome TEXT NOT NULL, \
             count INTEGER NOT NULL, PRIMARY KEY (route, outcome))",
            None,
        );
        Self { state }
    }

    async fn fetch(&self, _: Request) -> Result<Response> {
        rpc::not_http()
    }
}

rpc::object_method!(RequestCounts, CountsRequest);

impl RequestCounts {
    async fn answer(&self, request: CountsRequest) -> Result<CountsAnswer> {
        let sql = self.state.storage().sql();
        match request {
            CountsRequest::Add(counts) => {
                for (route, outcome, n) in counts {
                    sql.exec(
                        "INSERT INTO requests (route, outcome, count) VALUES (?, ?, ?) \
                         ON CONFLICT (route, outcome) DO UPDATE SET count = count + excluded.count",
                        vec![route.into(), outcome.into(), integer(n)],
                    )?;
                }
                Ok(CountsAnswer::Added)
            }
            CountsRequest::Totals => {
                #[derive(Deserialize)]
                struct Row {
                    route: String,
                    outcome: String,
                    count: u64,
                }
                let rows: Vec<Row> = sql
                    .exec(
                        "SELECT route, outcome, count FROM requests ORDER BY route, outcome",
                        None,
                    )?
                    .to_array()?;
                Ok(CountsAnswer::Totals(
                    rows.into_iter().map(|row| (row.route, row.outcome, row.count)).collect(),
                ))
            }
        }
    }
}

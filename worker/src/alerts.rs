//! Sending alerts (`ALERT_WEBHOOK_URL`): one Durable Object debounces them
//! ([`alerting`](crate::alerting)) and sends them from its alarm, retried a
//! few times. Raising an alert never waits for the alert endpoint, and an
//! endpoint that is down changes no delivery.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use worker::{Date, DurableObject, Env, Request, Response, Result, State, durable_object};

use crate::admission::Transition;
use crate::alerting::{self, Alert, AlertKind, Debounce, Step};
use crate::config::Config;
use crate::forward::{self, OriginAnswer};
use crate::sql::{alarm_in, integer};
use crate::{rpc, runtime};

const BINDING: &str = "ALERTS";
const NAME: &str = "alerts";
/// How long the alert endpoint has to answer.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum AlertRequest {
    /// An alert, with the dashboard's address when the request that raised it knows it.
    Raise { alert: Alert, dashboard: Option<String> },
    /// The dashboard's address, for alerts raised where no request tells it.
    Dashboard { url: String },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum AlertAnswer {
    Raised,
}

/// Hands `alert` to the store (nothing, without `ALERT_WEBHOOK_URL`).
pub async fn raise(env: &Env, config: &Config, alert: Alert, dashboard: Option<String>) {
    if config.alerts.is_none() {
        return;
    }
    let raised: Result<AlertAnswer> =
        rpc::call(env, BINDING, NAME, &AlertRequest::Raise { alert, dashboard }).await;
    if let Err(error) = raised {
        worker::console_error!("alert not raised: {error}");
    }
}

/// A destination's breaker opened or closed.
pub async fn breaker_changed(
    env: &Env,
    config: &Config,
    route: &str,
    destination: &str,
    transition: Transition,
    dashboard: Option<String>,
) {
    let kind = match transition {
        Transition::BreakerOpened => AlertKind::BreakerOpened,
        Transition::BreakerClosed => AlertKind::BreakerClosed,
    };
    let alert = Alert {
        kind,
        route: route.into(),
        destination: Some(destination.into()),
        at_ms: Date::now().as_millis(),
    };
    raise(env, config, alert, dashboard).await;
}

thread_local! {
    /// Whether this isolate has introduced itself to the store.
    static INTRODUCED: Cell<bool> = const { Cell::new(false) };
}

/// Once per isolate: tells the store the dashboard's address, and raises an
/// alert for each route the configuration left unusable (the store
/// debounces the isolates).
pub async fn introduce(env: Env, config: Rc<Config>, dashboard: Option<String>) {
    if config.alerts.is_none() || INTRODUCED.with(|introduced| introduced.replace(true)) {
        return;
    }
    if let Some(url) = &dashboard {
        let told: Result<AlertAnswer> =
            rpc::call(&env, BINDING, NAME, &AlertRequest::Dashboard { url: url.clone() }).await;
        if let Err(error) = told {
            worker::console_error!("alert store unavailable: {error}");
        }
    }
    for route in config.routes.iter().filter(|route| !config.is_usable(route)) {
        let alert = Alert {
            kind: AlertKind::RouteUnusable,
            route: route.path.clone(),
            destination: None,
            at_ms: Date::now().as_millis(),
        };
        raise(&env, &config, alert, dashboard.clone()).await;
    }
}

/// The debounce state and the messages waiting to go out.
#[durable_object(alarm)]
pub struct AlertStore {
    state: State,
    env: Env,
}

impl DurableObject for AlertStore {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        // Errors here surface on the first query instead.
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS debounce (key TEXT PRIMARY KEY, state TEXT NOT NULL, alert TEXT NOT NULL)",
            None,
        );
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, message TEXT NOT NULL, \
             attempts INTEGER NOT NULL, due_ms INTEGER NOT NULL)",
            None,
        );
        let _ = sql.exec("CREATE TABLE IF NOT EXISTS dashboard (id INTEGER PRIMARY KEY CHECK (id = 0), url TEXT NOT NULL)", None);
        Self { state, env }
    }

    async fn fetch(&self, _: Request) -> Result<Response> {
        rpc::not_http()
    }

    async fn alarm(&self) -> Result<Response> {
        self.work().await?;
        Response::empty()
    }
}

rpc::object_method!(AlertStore, AlertRequest);

#[derive(Deserialize)]
struct DebounceRow {
    key: String,
    state: String,
    alert: String,
}

#[derive(Deserialize)]
struct OutboxRow {
    id: u64,
    message: String,
    attempts: u32,
}

impl AlertStore {
    async fn answer(&self, request: AlertRequest) -> Result<AlertAnswer> {
        let (alert, dashboard) = match request {
            AlertRequest::Raise { alert, dashboard } => (Some(alert), dashboard),
            AlertRequest::Dashboard { url } => (None, Some(url)),
        };
        let sql = self.state.storage().sql();
        if let Some(url) = &dashboard {
            sql.exec(
                "INSERT INTO dashboard (id, url) VALUES (0, ?) ON CONFLICT (id) DO UPDATE SET url = excluded.url",
                vec![url.as_str().into()],
            )?;
        }
        let config = runtime::config(&self.env);
        let (Some(target), Some(alert)) = (&config.alerts, alert) else {
            return Ok(AlertAnswer::Raised);
        };
        let key = alert.key();
        let rows: Vec<DebounceRow> = sql
            .exec(
                "SELECT key, state, alert FROM debounce WHERE key = ?",
                vec![key.as_str().into()],
            )?
            .to_array()?;
        let state: Debounce = match rows.first() {
            Some(row) => serde_json::from_str(&row.state)?,
            None => Debounce::default(),
        };
        let (state, step) = alerting::arrive(&state, alert.at_ms, target.debounce_ms);
        sql.exec(
            "INSERT INTO debounce (key, state, alert) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET \
             state = excluded.state, alert = excluded.alert",
            vec![key.into(), serde_json::to_string(&state)?.into(), serde_json::to_string(&alert)?.into()],
        )?;
        if let Step::Send { count, first_ms, last_ms } = step {
            self.queue(&alert, count, first_ms, last_ms)?;
        }
        self.schedule().await?;
        Ok(AlertAnswer::Raised)
    }

    /// Puts a message in the outbox, due now.
    fn queue(&self, alert: &Alert, count: u32, first_ms: u64, last_ms: u64) -> Result<()> {
        let sql = self.state.storage().sql();
        #[derive(Deserialize)]
        struct Url {
            url: String,
        }
        let dashboard = sql
            .exec("SELECT url FROM dashboard", None)?
            .to_array::<Url>()?
            .pop()
            .map(|row| row.url);
        let message = alerting::message(alert, count, first_ms, last_ms, dashboard.as_deref());
        sql.exec(
            "INSERT INTO outbox (message, attempts, due_ms) VALUES (?, 0, ?)",
            vec![serde_json::to_string(&message)?.into(), integer(Date::now().as_millis())],
        )?;
        Ok(())
    }

    /// Sends what is due, ends the windows that are over, and sets the
    /// alarm for the next of either.
    async fn work(&self) -> Result<()> {
        let config = runtime::config(&self.env);
        let Some(target) = &config.alerts else { return Ok(()) };
        let sql = self.state.storage().sql();
        let now = Date::now().as_millis();
        let windows: Vec<DebounceRow> =
            sql.exec("SELECT key, state, alert FROM debounce", None)?.to_array()?;
        for row in windows {
            let state: Debounce = serde_json::from_str(&row.state)?;
            let (state, step) = alerting::window_end(&state, now, target.debounce_ms);
            if let Some(Step::Send { count, first_ms, last_ms }) = step {
                let alert: Alert = serde_json::from_str(&row.alert)?;
                self.queue(&alert, count, first_ms, last_ms)?;
                sql.exec(
                    "UPDATE debounce SET state = ? WHERE key = ?",
                    vec![serde_json::to_string(&state)?.into(), row.key.into()],
                )?;
            }
        }
        let due: Vec<OutboxRow> = sql
            .exec(
                "SELECT id, message, attempts FROM outbox WHERE due_ms <= ? ORDER BY id",
                vec![integer(now)],
            )?
            .to_array()?;
        for row in due {
            let mut headers = vec![("Content-Type", "application/json".to_string())];
            if let Some(signer) = &target.signer {
                headers.push((
                    crate::headers::EDGE_SIGNATURE_HEADER,
                    signer.sign(row.message.as_bytes()),
                ));
            }
            let answer = forward::send(
                &target.url,
                row.message.as_bytes(),
                &headers,
                SEND_TIMEOUT.as_millis() as u64,
            )
            .await;
            let sent = matches!(answer, OriginAnswer::Status { status, .. } if (200..300).contains(&status));
            let attempts = row.attempts + 1;
            match (sent, alerting::retry_after_ms(attempts)) {
                (false, Some(after_ms)) => {
                    sql.exec(
                        "UPDATE outbox SET attempts = ?, due_ms = ? WHERE id = ?",
                        vec![
                            integer(u64::from(attempts)),
                            integer(now + after_ms),
                            integer(row.id),
                        ],
                    )?;
                }
                (sent, _) => {
                    if !sent {
                        worker::console_error!(
                            "alert dropped after {attempts} attempts: the alert endpoint did not take it"
                        );
                    }
                    sql.exec("DELETE FROM outbox WHERE id = ?", vec![integer(row.id)])?;
                }
            }
        }
        self.schedule().await
    }

    /// Sets the alarm for the earliest of: a message due, a window with held alerts ending.
    async fn schedule(&self) -> Result<()> {
        let config = runtime::config(&self.env);
        let Some(target) = &config.alerts else { return Ok(()) };
        let sql = self.state.storage().sql();
        #[derive(Deserialize)]
        struct Due {
            due_ms: Option<u64>,
        }
        let Due { due_ms } = sql.exec("SELECT MIN(due_ms) AS due_ms FROM outbox", None)?.one()?;
        let windows: Vec<DebounceRow> =
            sql.exec("SELECT key, state, alert FROM debounce", None)?.to_array()?;
        let window_end = windows
            .iter()
            .filter_map(|row| serde_json::from_str::<Debounce>(&row.state).ok())
            .filter(|state| state.held > 0)
            .filter_map(|state| Some(state.sent_ms? + target.debounce_ms))
            .min();
        if let Some(next) = [due_ms, window_end].into_iter().flatten().min() {
            self.state
                .storage()
                .set_alarm(alarm_in(next.saturating_sub(Date::now().as_millis())))
                .await?;
        }
        Ok(())
    }
}

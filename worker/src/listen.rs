//! `GET /listen` (bearer `ADMIN_TOKEN`, a WebSocket): every event the
//! Worker verifies, streamed to a few listeners, like `stripe listen`
//! (`npx threetone-webhooks listen` is the client). One Durable Object holds
//! the sockets with the hibernation API, so an idle listener costs nothing.
//! Listening only copies: what the destinations receive never changes.
//!
//! Frames are JSON text: `{"type":"hello","listeners":n}` once, then one
//! `{"type":"event",...}` per verified event ([`Streamed`]); the text `ping`
//! is answered `pong` by the runtime without waking the object.

use std::cell::Cell;

use serde::{Deserialize, Serialize};
use worker::{
    DurableObject, Env, Request, Response, Result, State, WebSocket, WebSocketIncomingMessage,
    WebSocketPair, durable_object,
};

use crate::event::Authentic;
use crate::outcome::Reply;
use crate::{encoding, rpc, runtime};

const BINDING: &str = "LISTENERS";
const NAME: &str = "listeners";
/// At most this many listeners at once.
pub const MAX_LISTENERS: usize = 5;
/// How long this isolate trusts what it last learned about the listeners.
const KNOWN_FOR_MS: u64 = 1_000;

thread_local! {
    /// When this isolate last learned the number of listeners, and that number.
    static KNOWN: Cell<(u64, usize)> = const { Cell::new((0, 0)) };
}

/// One verified event, as a listener receives it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Streamed {
    #[serde(rename = "type")]
    pub kind: String,
    pub route: String,
    pub event: String,
    pub call_id: Option<String>,
    pub delivery_id: String,
    pub received_at: String,
    pub content_type: String,
    pub body_base64: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ListenRequest {
    /// Sends a frame to every listener that wants `event`; how many listen.
    Broadcast { frame: String, event: String },
}

/// Hands an upgrade request to the listeners' object (after the admin check).
pub async fn connect(request: Request, env: &Env) -> Result<Response> {
    KNOWN.with(|known| known.set((0, 0))); // a new listener: ask again
    env.durable_object(BINDING)?.id_from_name(NAME)?.get_stub()?.fetch_with_request(request).await
}

/// Copies a verified event to the listeners, if there are any (this isolate
/// asks at most once a second while there are none).
pub async fn stream(env: &Env, event: &Authentic, now_ms: u64) {
    let (checked, count) = KNOWN.with(Cell::get);
    if count == 0 && now_ms.saturating_sub(checked) < KNOWN_FOR_MS {
        return;
    }
    let frame = Streamed {
        kind: "event".into(),
        route: event.route.clone(),
        event: event.event.clone(),
        call_id: event.call_id.clone(),
        delivery_id: event.key().delivery_id("listen"),
        received_at: threetone_webhooks::Timestamp::from_unix_seconds((now_ms / 1000) as i64)
            .map(|time| time.to_string())
            .unwrap_or_default(),
        content_type: event.content_type.clone(),
        body_base64: encoding::base64(&event.body),
    };
    let Ok(frame) = serde_json::to_string(&frame) else { return };
    let request = ListenRequest::Broadcast { frame, event: event.event.clone() };
    match rpc::call::<_, usize>(env, BINDING, NAME, &request).await {
        Ok(count) => KNOWN.with(|known| known.set((now_ms, count))),
        Err(error) => worker::console_error!("listeners unavailable: {error}"),
    }
}

/// The listeners' sockets.
#[durable_object(websocket)]
pub struct ListenerStore {
    state: State,
}

impl DurableObject for ListenerStore {
    fn new(state: State, _env: Env) -> Self {
        if let Ok(pair) = worker::worker_sys::WebSocketRequestResponsePair::new("ping", "pong") {
            state.set_websocket_auto_response(&pair);
        }
        Self { state }
    }

    /// The upgrade (the Worker checked the token): a new listener, or 503 when full.
    async fn fetch(&self, request: Request) -> Result<Response> {
        let sockets = self.state.get_websockets();
        if sockets.len() >= MAX_LISTENERS {
            return crate::into_response(Reply::error(503, "too_many_listeners"), None);
        }
        let events = runtime::query_param(&request, "events").unwrap_or_default();
        let pair = WebSocketPair::new()?;
        self.state.accept_websocket_with_tags(&pair.server, &[events.as_str()]);
        #[derive(Serialize)]
        struct Hello {
            #[serde(rename = "type")]
            kind: &'static str,
            listeners: usize,
        }
        pair.server.send_with_str(serde_json::to_string(&Hello {
            kind: "hello",
            listeners: sockets.len() + 1,
        })?)?;
        Response::from_websocket(pair.client)
    }

    async fn websocket_message(
        &self,
        _ws: WebSocket,
        _message: WebSocketIncomingMessage,
    ) -> Result<()> {
        Ok(()) // listeners only listen (`ping` is answered by the runtime)
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        _reason: String,
        _clean: bool,
    ) -> Result<()> {
        let _ = ws.close(Some(u16::try_from(code).unwrap_or(1000).clamp(1000, 4999)), Some("bye"));
        Ok(())
    }
}

rpc::object_method!(ListenerStore, ListenRequest);

impl ListenerStore {
    async fn answer(&self, request: ListenRequest) -> Result<usize> {
        let ListenRequest::Broadcast { frame, event } = request;
        let sockets = self.state.get_websockets();
        for socket in &sockets {
            let wanted = self.state.get_tags(socket).first().is_none_or(|events| {
                events.is_empty() || events.split(',').any(|name| name.trim() == event)
            });
            if wanted {
                let _ = socket.send_with_str(&frame);
            }
        }
        Ok(sockets.len())
    }
}

//! Forwarding to the origin, with a timeout.

use std::time::Duration;

use futures_util::future::{Either, select};
use worker::js_sys::Uint8Array;
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
};

/// How the origin answered.
#[derive(Debug)]
pub enum OriginAnswer {
    /// An HTTP status; the body is kept only for 4xx, which is passed through.
    Status { status: u16, body: Vec<u8> },
    /// No answer within the timeout.
    Timeout,
    /// No connection (refused, DNS, TLS).
    Unreachable,
}

/// POSTs exactly `body` with exactly `headers` to `url`.
pub async fn send(url: &str, body: &[u8], headers: Headers, timeout_ms: u64) -> OriginAnswer {
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(Uint8Array::from(body).into()))
        .with_redirect(RequestRedirect::Manual);
    let Ok(request) = Request::new_with_init(url, &init) else {
        return OriginAnswer::Unreachable;
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let response = Box::pin(fetch.send_with_signal(&signal));
    let timeout = Box::pin(Delay::from(Duration::from_millis(timeout_ms)));
    match select(response, timeout).await {
        Either::Left((Ok(mut response), _)) => {
            let status = response.status_code();
            let body = if (400..500).contains(&status) {
                response.bytes().await.unwrap_or_default()
            } else {
                Vec::new()
            };
            OriginAnswer::Status { status, body }
        }
        Either::Left((Err(_), _)) => OriginAnswer::Unreachable,
        Either::Right(_) => {
            controller.abort();
            OriginAnswer::Timeout
        }
    }
}

//! Forwarding to the origin, with a timeout.

use std::time::Duration;

use futures_util::future::{Either, select};
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::JsValue;
use worker::{AbortController, Delay, Fetch, Headers, Request, Result, web_sys};

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

/// A POST of `body` with `headers` to `url`, redirects not followed. Built
/// with web-sys directly: the worker crate's `RequestInit` carries the
/// conversion of every Cloudflare `cf` option, which would weigh on the upload.
fn post(url: &str, body: &JsValue, headers: &Headers) -> Result<Request> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers.0);
    init.set_body(body);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    Ok(web_sys::Request::new_with_str_and_init(url, &init)?.into())
}

/// POSTs exactly `body` with exactly `headers` to `url`.
pub async fn send(url: &str, body: &[u8], headers: Headers, timeout_ms: u64) -> OriginAnswer {
    let Ok(request) = post(url, &Uint8Array::from(body).into(), &headers) else {
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

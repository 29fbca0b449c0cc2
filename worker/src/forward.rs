//! Forwarding to a destination, with a timeout that covers the whole answer.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::{Either, select};
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::JsValue;
use worker::{AbortController, Delay, Fetch, Headers, Request, Response, Result, web_sys};

use crate::outcome::Rejection;

/// The most of a 4xx answer's body passed back to the sender.
pub const MAX_REJECTION_BODY: usize = 4 * 1024;

/// How a destination answered.
#[derive(Debug)]
pub enum OriginAnswer {
    /// An HTTP status; for 4xx, which is passed through, the start of the
    /// body and its media type.
    Status { status: u16, rejection: Option<Rejection> },
    /// No answer within the timeout.
    Timeout,
    /// No connection (refused, DNS, TLS).
    Unreachable,
}

/// A POST of `body` with `headers` to `url`, redirects not followed. Built
/// with web-sys directly: the worker crate's `RequestInit` carries the
/// conversion of every Cloudflare `cf` option, which would weigh on the upload.
fn post(url: &str, body: &JsValue, headers: &[(&str, String)]) -> Result<Request> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let runtime_headers = Headers::new();
    for (name, value) in headers {
        runtime_headers.set(name, value)?;
    }
    init.set_headers(&runtime_headers.0);
    init.set_body(body);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    Ok(web_sys::Request::new_with_str_and_init(url, &init)?.into())
}

/// POSTs exactly `body` with exactly `headers` to `url`; the answer, a 4xx
/// body included, must come within `timeout_ms`.
pub async fn send(
    url: &str,
    body: &[u8],
    headers: &[(&str, String)],
    timeout_ms: u64,
) -> OriginAnswer {
    let Ok(request) = post(url, &Uint8Array::from(body).into(), headers) else {
        return OriginAnswer::Unreachable;
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let answer = Box::pin(async move {
        let response = Fetch::Request(request).send_with_signal(&signal).await?;
        read_answer(response).await
    });
    let timeout = Box::pin(Delay::from(Duration::from_millis(timeout_ms)));
    match select(answer, timeout).await {
        Either::Left((Ok(answer), _)) => answer,
        Either::Left((Err(_), _)) => OriginAnswer::Unreachable,
        Either::Right(_) => {
            controller.abort();
            OriginAnswer::Timeout
        }
    }
}

/// The status, and for a 4xx the first [`MAX_REJECTION_BODY`] bytes of the
/// body (the rest is not read).
async fn read_answer(mut response: Response) -> Result<OriginAnswer> {
    let status = response.status_code();
    if !(400..500).contains(&status) {
        return Ok(OriginAnswer::Status { status, rejection: None });
    }
    let content_type = response.headers().get("Content-Type").ok().flatten();
    let mut body = Vec::new();
    if let Ok(mut stream) = response.stream() {
        while body.len() < MAX_REJECTION_BODY {
            match stream.next().await {
                Some(Ok(chunk)) => body.extend_from_slice(&chunk),
                // A body that breaks off is passed on as far as it came.
                Some(Err(_)) | None => break,
            }
        }
    }
    body.truncate(MAX_REJECTION_BODY);
    Ok(OriginAnswer::Status { status, rejection: Some(Rejection { body, content_type }) })
}

//! The headers a delivery carries to a destination: nothing of the inbound
//! request but these. Plain data (covered by `cargo test`); the runtime's
//! `Headers` are made from it at the edge.

use threetone_webhooks::SIGNATURE_HEADER;

/// The event type, when it can travel as a header value.
pub const EVENT_HEADER: &str = "X-ThreeTone-Event";
/// The destination's name.
pub const DESTINATION_HEADER: &str = "X-ThreeTone-Destination";
/// The id of this delivery, the same at every redelivery (see
/// [`EventKey::delivery_id`](crate::keys::EventKey::delivery_id)).
pub const DELIVERY_ID_HEADER: &str = "X-ThreeTone-Delivery-Id";
/// The edge's own signature of the body, with `ORIGIN_SECRET`.
pub const EDGE_SIGNATURE_HEADER: &str = "X-ThreeTone-Edge-Signature";
/// Flags a forwarded body that failed validation, with the error code.
pub const EDGE_INVALID_HEADER: &str = "X-ThreeTone-Edge-Invalid";
/// Marks a sample sent by `POST /test`, not by ThreeTone.
pub const EDGE_TEST_HEADER: &str = "X-ThreeTone-Edge-Test";
/// Marks an event sent again by `POST /replay`.
pub const EDGE_REPLAY_HEADER: &str = "X-ThreeTone-Edge-Replay";
/// The edge's request id.
pub const REQUEST_ID_HEADER: &str = "X-Request-Id";

/// Event names longer than this are not sent as a header (they are
/// ThreeTone's short snake_case words; the body always has the name).
const MAX_EVENT_HEADER_CHARS: usize = 128;

/// What a delivery to a destination says about its event.
pub struct ForwardHeaders<'a> {
    pub content_type: &'a str,
    /// The verified signature header, as received.
    pub signature: &'a str,
    /// The event type (empty when the body did not say).
    pub event: &'a str,
    pub destination: &'a str,
    pub delivery_id: &'a str,
    pub request_id: &'a str,
    /// `sha256=<hex>` of the body with `ORIGIN_SECRET`.
    pub edge_signature: Option<String>,
    /// The validation error code of a body forwarded despite failing validation.
    pub invalid: Option<&'a str>,
    /// Sent by `POST /test`.
    pub test: bool,
    /// Sent again by `POST /replay`.
    pub replay: bool,
}

impl ForwardHeaders<'_> {
    /// The headers, in order. Every value is one the runtime accepts: an
    /// event name that is not (a control character, say) is left out rather
    /// than fail every delivery of an authentic event.
    pub fn list(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("Content-Type", self.content_type.to_string()),
            (SIGNATURE_HEADER, self.signature.to_string()),
        ];
        if let Some(event) = header_value(self.event) {
            headers.push((EVENT_HEADER, event.to_string()));
        }
        headers.push((DESTINATION_HEADER, self.destination.to_string()));
        headers.push((DELIVERY_ID_HEADER, self.delivery_id.to_string()));
        headers.push((REQUEST_ID_HEADER, self.request_id.to_string()));
        if let Some(signature) = &self.edge_signature {
            headers.push((EDGE_SIGNATURE_HEADER, signature.clone()));
        }
        if let Some(code) = self.invalid {
            headers.push((EDGE_INVALID_HEADER, code.to_string()));
        }
        if self.test {
            headers.push((EDGE_TEST_HEADER, "1".to_string()));
        }
        if self.replay {
            headers.push((EDGE_REPLAY_HEADER, "1".to_string()));
        }
        headers
    }
}

/// `text` if it can be sent as an event-name header value: printable
/// ASCII without surrounding spaces, and short.
fn header_value(text: &str) -> Option<&str> {
    let printable = text.bytes().all(|byte| (0x20..0x7f).contains(&byte));
    let trimmed = text.trim() == text;
    (!text.is_empty() && printable && trimmed && text.len() <= MAX_EVENT_HEADER_CHARS)
        .then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(event: &str) -> ForwardHeaders<'_> {
        ForwardHeaders {
            content_type: "application/json",
            signature: "sha256=00",
            event,
            destination: "crm",
            delivery_id: "dlv_1",
            request_id: "req_1",
            edge_signature: None,
            invalid: None,
            test: false,
            replay: false,
        }
    }

    fn names(headers: &[(&'static str, String)]) -> Vec<&'static str> {
        headers.iter().map(|(name, _)| *name).collect()
    }

    #[test]
    fn a_delivery_carries_only_its_own_headers() {
        let headers = delivery("call_started").list();
        assert_eq!(
            names(&headers),
            [
                "Content-Type",
                SIGNATURE_HEADER,
                EVENT_HEADER,
                DESTINATION_HEADER,
                DELIVERY_ID_HEADER,
                REQUEST_ID_HEADER
            ]
        );
        assert_eq!(headers[2].1, "call_started");
        let flagged = ForwardHeaders {
            edge_signature: Some("sha256=11".into()),
            invalid: Some("invalid_payload"),
            test: true,
            ..delivery("call_started")
        };
        let headers = flagged.list();
        assert_eq!(
            &names(&headers)[6..],
            [EDGE_SIGNATURE_HEADER, EDGE_INVALID_HEADER, EDGE_TEST_HEADER]
        );
        assert_eq!(headers[8].1, "1");
    }

    #[test]
    fn an_event_name_that_is_no_header_value_is_left_out() {
        let long = "e".repeat(129);
        for name in
            ["call\u{1}started", "call\nstarted", "caf\u{e9}", " call_started", "", long.as_str()]
        {
            assert!(!names(&delivery(name).list()).contains(&EVENT_HEADER), "{name:?}");
        }
        for name in ["call_started", "call recording.ready", &"e".repeat(128)] {
            assert!(names(&delivery(name).list()).contains(&EVENT_HEADER), "{name:?}");
        }
    }
}

"""Flask (its test client): the decorator and verify_flask_request."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, Response, jsonify

import threetone_webhooks as tw
from threetone_webhooks.flask import error_response, threetone_webhook, verify_flask_request

from conftest import peer_sign, seeds

SECRET = "whsec_flask_test"
BODY = seeds()["call_started"]
received: list[tw.ThreeToneEvent] = []
configured: dict[str, str | None] = {"secret": SECRET}


def make_app() -> Flask:
    app = Flask(__name__)

    @app.post("/decorated")
    @threetone_webhook(lambda: configured["secret"], max_body_bytes=64 * 1024)
    def decorated(event: tw.ThreeToneEvent) -> dict[str, str]:
        received.append(event)
        return {"status": "success", "event": event["event"]}

    @app.post("/explicit")
    def explicit() -> Any:
        try:
            event = verify_flask_request(tw.Webhook(SECRET), max_body_bytes=64 * 1024)
        except tw.WebhookVerificationError as error:
            return error_response(error)
        return jsonify(status="success", event=event["event"])

    return app


@pytest.fixture
def client() -> Iterator[Any]:
    received.clear()
    configured["secret"] = SECRET
    with make_app().test_client() as test_client:
        yield test_client


def post(client: Any, path: str, body: bytes, signature: str | None, **kwargs: Any) -> Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-ThreeTone-Signature"] = signature
    response: Response = client.post(path, data=body, headers=headers, **kwargs)
    return response


@pytest.mark.parametrize("path", ["/decorated", "/explicit"])
def test_a_valid_webhook_is_received(client: Any, path: str) -> None:
    response = post(client, path, BODY, peer_sign(SECRET, BODY))
    assert response.status_code == 200
    assert response.get_json() == {"status": "success", "event": "call_started"}
    if path == "/decorated":
        assert received[0]["data"] == tw.parse_event(BODY)["data"]


@pytest.mark.parametrize("path", ["/decorated", "/explicit"])
def test_a_forged_or_unsigned_webhook_is_401_and_never_reaches_the_view(
    client: Any, path: str
) -> None:
    for signature, code in (
        (peer_sign("whsec_other", BODY), "signature_mismatch"),
        (None, "missing_signature"),
        ("sha1=abc", "unknown_signature_scheme"),
    ):
        response = post(client, path, BODY, signature)
        assert response.status_code == 401
        assert response.get_json()["error"] == code
        assert response.get_json()["message"]
    assert received == []


@pytest.mark.parametrize("path", ["/decorated", "/explicit"])
def test_an_authentic_malformed_body_is_400(client: Any, path: str) -> None:
    for body, code in ((b'{"event":', "invalid_json"), (b"[]", "invalid_payload")):
        response = post(client, path, body, peer_sign(SECRET, body))
        assert response.status_code == 400
        assert response.get_json()["error"] == code
    assert received == []


@pytest.mark.parametrize("path", ["/decorated", "/explicit"])
def test_a_body_over_the_limit_is_413_before_it_is_read(client: Any, path: str) -> None:
    body = b" " * (64 * 1024 + 1)
    response = post(client, path, body, peer_sign(SECRET, body))
    assert response.status_code == 413
    assert response.get_json() == {
        "error": "payload_too_large",
        "message": "body is 65537 bytes, more than the allowed 65536",
    }
    # A Content-Length that lies is refused too: nothing is read.
    unread = io.BytesIO(b"{}")
    response = client.post(
        path,
        input_stream=unread,
        headers={"X-ThreeTone-Signature": "sha256=00"},
        environ_overrides={"CONTENT_LENGTH": str(10**9)},
    )
    assert response.status_code == 413
    assert unread.tell() == 0
    assert received == []


def test_a_body_without_length_is_read_only_up_to_the_limit(client: Any) -> None:
    # A server that terminates the stream itself (chunked): no Content-Length.
    stream = io.BytesIO(b" " * (1024 * 1024))
    response = client.post(
        "/decorated",
        input_stream=stream,
        headers={"X-ThreeTone-Signature": "sha256=" + "0" * 64},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert response.get_json()["error"] == "payload_too_large"
    assert stream.tell() <= 64 * 1024 + 64 * 1024, "stopped near the limit"


def test_no_secret_configured_is_503(client: Any) -> None:
    configured["secret"] = None
    response = post(client, "/decorated", BODY, peer_sign(SECRET, BODY))
    assert response.status_code == 503
    assert response.get_json()["error"] == "no_secret"
    configured["secret"] = ""
    response = post(client, "/decorated", BODY, peer_sign(SECRET, BODY))
    assert (response.status_code, response.get_json()["error"]) == (503, "empty_secret")
    assert received == []

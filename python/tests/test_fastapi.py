"""FastAPI (TestClient) with the dependency, and a plain Starlette route."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import threetone_webhooks as tw
from threetone_webhooks.fastapi import (
    ThreeToneWebhook,
    add_exception_handler,
    error_response,
    verify_starlette_request,
)

from conftest import peer_sign, seeds

SECRET = "whsec_fastapi_test"
BODY = seeds()["conversation_ended"]
received: list[tw.ThreeToneEvent] = []
configured: dict[str, str | None] = {"secret": SECRET}
# At module level: FastAPI reads the views' (string) annotations in this module's globals.
webhook = ThreeToneWebhook(lambda: configured["secret"], max_body_bytes=64 * 1024)


def fastapi_app() -> FastAPI:
    app = FastAPI()
    add_exception_handler(app)

    @app.post("/webhooks/threetone")
    async def receive(event: Annotated[tw.ThreeToneEvent, Depends(webhook)]) -> dict[str, str]:
        received.append(event)
        return {"status": "success", "event": event["event"]}

    @app.post("/sync")
    def receive_sync(event: Annotated[tw.ThreeToneEvent, Depends(webhook)]) -> dict[str, str]:
        received.append(event)
        return {"status": "success", "event": event["event"]}

    return app


async def starlette_route(request: Request) -> JSONResponse:
    try:
        event = await verify_starlette_request(request, SECRET, max_body_bytes=64 * 1024)
    except tw.WebhookVerificationError as error:
        return error_response(error)
    return JSONResponse({"status": "success", "event": event["event"]})


@pytest.fixture(params=["fastapi", "fastapi-sync", "starlette"])
def client(request: pytest.FixtureRequest) -> Iterator[tuple[TestClient, str]]:
    received.clear()
    configured["secret"] = SECRET
    if request.param == "starlette":
        app: Any = Starlette(
            routes=[Route("/webhooks/threetone", starlette_route, methods=["POST"])]
        )
        path = "/webhooks/threetone"
    else:
        app = fastapi_app()
        path = "/sync" if request.param == "fastapi-sync" else "/webhooks/threetone"
    with TestClient(app) as test_client:
        yield test_client, path


def post(client: tuple[TestClient, str], body: Any, signature: str | None) -> Any:
    test_client, path = client
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-threetone-signature"] = signature
    return test_client.post(path, content=body, headers=headers)


def test_a_valid_webhook_is_received(client: tuple[TestClient, str]) -> None:
    response = post(client, BODY, peer_sign(SECRET, BODY))
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "success", "event": "conversation_ended"}


def test_a_forged_webhook_is_401(client: tuple[TestClient, str]) -> None:
    for signature, code in (
        (peer_sign("whsec_other", BODY), "signature_mismatch"),
        (None, "missing_signature"),
        ("sha256=xyz", "invalid_signature_length"),
    ):
        response = post(client, BODY, signature)
        assert response.status_code == 401
        assert response.json()["error"] == code
        assert response.json()["message"]
    assert received == []


def test_an_authentic_malformed_body_is_400(client: tuple[TestClient, str]) -> None:
    body = b'{"event":"call_started","timestamp":"2024-01-15T10:30:00Z","data":{}}'
    response = post(client, body, peer_sign(SECRET, body))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    assert "$.data.call_id" in response.json()["message"]


def test_a_body_over_the_limit_is_413(client: tuple[TestClient, str]) -> None:
    body = b" " * (64 * 1024 + 1)
    response = post(client, body, peer_sign(SECRET, body))
    assert response.status_code == 413
    assert response.json() == {
        "error": "payload_too_large",
        "message": "body is 65537 bytes, more than the allowed 65536",
    }

    def chunks() -> Iterator[bytes]:  # no Content-Length: read as it comes
        for _ in range(64):
            yield b" " * 4096

    response = post(client, chunks(), "sha256=" + "0" * 64)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert received == []


def test_no_secret_configured_is_503() -> None:
    configured["secret"] = None
    with TestClient(fastapi_app()) as test_client:
        response = post((test_client, "/webhooks/threetone"), BODY, peer_sign(SECRET, BODY))
    assert response.status_code == 503
    assert response.json()["error"] == "no_secret"

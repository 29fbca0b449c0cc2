"""Django (its test client) with the view decorator."""

from __future__ import annotations

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["testserver"],
    MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
    SECRET_KEY="django-test-only",
)
django.setup()

from typing import Any  # noqa: E402

import pytest  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import path  # noqa: E402

import threetone_webhooks as tw  # noqa: E402
from threetone_webhooks.django import threetone_webhook  # noqa: E402

from conftest import peer_sign, seeds  # noqa: E402

SECRET = "whsec_django_test"
BODY = seeds()["escalation_triggered"]
received: list[tw.ThreeToneEvent] = []
configured: dict[str, str | None] = {"secret": SECRET}


@threetone_webhook(lambda: configured["secret"], max_body_bytes=64 * 1024)
def receive(request: HttpRequest, event: tw.ThreeToneEvent) -> HttpResponse:
    received.append(event)
    return JsonResponse({"status": "success", "event": event["event"]})


urlpatterns = [path("webhooks/threetone", receive)]


@pytest.fixture
def client() -> Client:
    received.clear()
    configured["secret"] = SECRET
    # CSRF checks on, as in production: the decorator exempts the view.
    return Client(enforce_csrf_checks=True)


def post(client: Client, body: bytes, signature: str | None) -> Any:
    headers = {} if signature is None else {"X-ThreeTone-Signature": signature}
    return client.post(
        "/webhooks/threetone", data=body, content_type="application/json", headers=headers
    )


def test_a_valid_webhook_is_received(client: Client) -> None:
    response = post(client, BODY, peer_sign(SECRET, BODY))
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "success", "event": "escalation_triggered"}
    assert received[0]["event"] == "escalation_triggered"


def test_a_forged_webhook_is_401(client: Client) -> None:
    for signature, code in (
        (peer_sign("whsec_other", BODY), "signature_mismatch"),
        (None, "missing_signature"),
        ("sha256=" + "g" * 64, "invalid_signature_hex"),
    ):
        response = post(client, BODY, signature)
        assert response.status_code == 401
        assert response.json()["error"] == code
    assert received == []


def test_an_authentic_malformed_body_is_400(client: Client) -> None:
    body = b'{"event":"call_ended","timestamp":"yesterday","data":{}}'
    response = post(client, body, peer_sign(SECRET, body))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"


def test_a_body_over_the_limit_is_413(client: Client) -> None:
    body = b" " * (64 * 1024 + 1)
    response = post(client, body, peer_sign(SECRET, body))
    assert response.status_code == 413
    assert response.json() == {
        "error": "payload_too_large",
        "message": "body is 65537 bytes, more than the allowed 65536",
    }


def test_only_post_is_allowed_and_no_secret_is_503(client: Client) -> None:
    response = client.get("/webhooks/threetone")
    assert response.status_code == 405
    configured["secret"] = None
    response = post(client, BODY, peer_sign(SECRET, BODY))
    assert (response.status_code, response.json()["error"]) == (503, "no_secret")
    assert received == []

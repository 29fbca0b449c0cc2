"""The seed's Flask handler, rewritten with the package (python/examples/flask_app.py)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from conftest import EXAMPLES, peer_sign, seeds

SECRET = "whsec_example_test"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.setenv("THREETONE_WEBHOOK_SECRET", SECRET)
    spec = importlib.util.spec_from_file_location("flask_app", EXAMPLES / "flask_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["flask_app"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["flask_app"]


def post(example: ModuleType, body: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-ThreeTone-Signature"] = signature
    return example.app.test_client().post("/webhooks/threetone", data=body, headers=headers)


def test_the_documented_events_are_processed(example: ModuleType) -> None:
    for name, body in seeds().items():
        response = post(example, body, peer_sign(SECRET, body))
        assert response.status_code == 200, (name, response.get_json())
        assert response.get_json() == {"status": "success"}
    assert example.processed == [("call_ended", "call_abc123"), ("call_started", "call_abc123")]


def test_forged_malformed_too_large_and_unconfigured_requests_are_refused(
    example: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = seeds()["call_started"]
    forged = post(example, body, peer_sign("whsec_attacker", body))
    assert (forged.status_code, forged.get_json()["error"]) == (401, "signature_mismatch")
    malformed = b'{"event":"call_started","timestamp":"2024-01-15T10:30:00Z","data":{"call_id":1}}'
    answer = post(example, malformed, peer_sign(SECRET, malformed))
    assert (answer.status_code, answer.get_json()["error"]) == (400, "invalid_payload")
    large = b" " * (1024 * 1024 + 1)
    answer = post(example, large, peer_sign(SECRET, large))
    assert (answer.status_code, answer.get_json()["error"]) == (413, "payload_too_large")
    monkeypatch.delenv("THREETONE_WEBHOOK_SECRET")
    answer = post(example, body, peer_sign(SECRET, body))
    assert (answer.status_code, answer.get_json()["error"]) == (503, "no_secret")
    assert example.processed == []

"""The API in Python's idiom: rotation, Webhook, options, samples, misuse, the buffer."""

from __future__ import annotations

import json
import pathlib
import sysconfig
import tomllib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import threetone_webhooks as tw
from threetone_webhooks import events

from conftest import ROOT, peer_sign, seeds, vectors


def test_the_package_is_the_installed_wheel() -> None:
    installed = pathlib.Path(sysconfig.get_paths()["purelib"]).resolve()
    package = pathlib.Path(tw.__file__).resolve()
    assert package.is_relative_to(installed), package
    assert (package.parent / "_core.wasm").is_file()
    assert (package.parent / "py.typed").is_file()
    # The wheel's metadata carries the version of pyproject.toml (the workspace's,
    # which `cargo xtask codegen --check` holds every place to).
    pyproject = tomllib.loads((ROOT / "python" / "pyproject.toml").read_text(encoding="utf-8"))
    assert tw.__version__ == pyproject["project"]["version"]


def test_constants_come_from_the_core() -> None:
    assert tw.SIGNATURE_HEADER == "X-ThreeTone-Signature"
    # Every type of the catalog the core generates, in its order.
    assert list(tw.EVENT_TYPES) == [item["name"] for item in vectors("catalog.json")["event_types"]]
    assert tw.EVENT_TYPES[0] == "call_started"
    assert set(events.SAMPLE_TEMPLATES) == set(tw.EVENT_TYPES)


def test_rotation_accepts_every_configured_secret_and_no_other() -> None:
    secrets: list[str | bytes] = ["new_secret", "old_secret", b"oldest_secret"]
    webhook = tw.Webhook(secrets)
    for secret in secrets:
        signature = peer_sign(secret, "rotated")
        assert webhook.verify("rotated", signature)
        assert tw.verify("rotated", signature, secrets)
        assert tw.verify("rotated", signature, tuple(secrets))
    other = peer_sign("other", "rotated")
    assert not webhook.verify("rotated", other)
    assert not tw.verify("rotated", other, secrets)
    assert webhook.sign("x") == tw.sign("x", "new_secret") == peer_sign("new_secret", "x")
    with pytest.raises(tw.WebhookVerificationError) as raised:
        webhook.verify_or_raise("rotated", other)
    assert (raised.value.code, raised.value.status) == ("signature_mismatch", 401)


def test_a_str_and_bytes_secret_are_the_same_key_but_not_the_same_cache_entry() -> None:
    signature = peer_sign("k", "body")
    assert tw.verify("body", signature, "k")
    assert tw.verify("body", signature, b"k")
    assert not tw.verify("body", signature, "K")


def test_a_receiver_that_is_not_configured_fails_closed_with_503() -> None:
    for secret, code in ((None, "no_secret"), ([], "no_secret"), ("", "empty_secret")):
        for call in (
            lambda s: tw.verify("x", "sha256=00", s),
            lambda s: tw.construct_event("{}", "sha256=00", s),
            tw.Webhook,
        ):
            with pytest.raises(tw.WebhookVerificationError) as raised:
                call(secret)
            assert (raised.value.code, raised.value.status) == (code, 503)
    with pytest.raises(tw.WebhookVerificationError) as raised:
        tw.Webhook(["whsec_ok", b""])
    assert raised.value.code == "empty_secret"


def test_misuse_is_a_type_error_that_says_what_to_pass() -> None:
    sample = tw.generate_test_event("call_ended", secret="k")
    signature = sample.headers["x-threetone-signature"]
    with pytest.raises(TypeError, match="raw request body"):
        tw.construct_event(json.loads(sample.body), signature, "k")
    with pytest.raises(TypeError, match="secret"):
        tw.sign("x", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="signature"):
        tw.verify("x", 42, "k")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_age_seconds"):
        tw.parse_event(sample.body, max_age_seconds=-1)
    with pytest.raises(ValueError, match="aware"):
        tw.parse_event(sample.body, max_age_seconds=1, now=datetime(2024, 1, 1))


def test_errors_never_show_the_secret() -> None:
    secret = "whsec_very_secret_value_1234"
    webhook = tw.Webhook(secret)
    assert secret not in repr(webhook)
    for header in ("", "sha1=00", "sha256=zz", "sha256=" + "0" * 64):
        with pytest.raises(tw.WebhookVerificationError) as raised:
            webhook.verify_or_raise(secret, header)
        assert secret not in str(raised.value) + repr(raised.value)


def test_freshness_is_off_by_default_and_checks_the_window_when_asked() -> None:
    at = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    stale = tw.generate_test_event("call_started", secret="k", now=at)
    signature = stale.headers["x-threetone-signature"]
    assert tw.construct_event(stale.body, signature, "k")["event"] == "call_started"
    with pytest.raises(tw.WebhookVerificationError) as raised:
        tw.construct_event(stale.body, signature, "k", max_age_seconds=300)
    assert (raised.value.code, raised.value.status) == ("timestamp_too_old", 400)
    sent = at.timestamp()
    for now in (sent - 300, sent, sent + 300, at + timedelta(seconds=299.9)):
        tw.construct_event(stale.body, signature, "k", max_age_seconds=300, now=now)
    with pytest.raises(tw.WebhookVerificationError) as raised:
        tw.construct_event(stale.body, signature, "k", max_age_seconds=300, now=sent - 301)
    assert raised.value.code == "timestamp_in_future"
    webhook = tw.Webhook("k", max_age_seconds=300)
    with pytest.raises(tw.WebhookVerificationError):
        webhook.construct_event(stale.body, signature)
    assert webhook.construct_event(stale.body, signature, now=sent)["event"] == "call_started"
    assert webhook.construct_event(stale.body, signature, max_age_seconds=None)


def test_unknown_events_are_accepted_by_default_and_rejected_when_asked() -> None:
    unknown = '{"event":"call_recording_ready","timestamp":"2024-01-15T10:30:00Z","data":{}}'
    # Typed as one of the known types (as in the npm package), so that `event` narrows.
    event: dict[str, Any] = dict(tw.parse_event(unknown))
    assert event["event"] == "call_recording_ready"
    with pytest.raises(tw.WebhookVerificationError) as raised:
        tw.parse_event(unknown, allow_unknown_events=False)
    assert (raised.value.code, raised.value.status, raised.value.path) == (
        "unknown_event_type",
        400,
        None,
    )
    webhook = tw.Webhook("k", allow_unknown_events=False)
    with pytest.raises(tw.WebhookVerificationError):
        webhook.construct_event(unknown, peer_sign("k", unknown))
    assert webhook.construct_event(unknown, peer_sign("k", unknown), allow_unknown_events=True)


@pytest.mark.parametrize("event_type", tw.EVENT_TYPES)
def test_generate_test_event_makes_a_valid_signed_sample_of_every_type(
    event_type: tw.EventType,
) -> None:
    sample = tw.generate_test_event(event_type, secret="k", overrides={"data": {"extra_field": 1}})
    assert sample.headers["content-type"] == "application/json"
    signature = sample.headers["x-threetone-signature"]
    assert signature == peer_sign("k", sample.body)
    event = tw.construct_event(sample.body, signature, "k", allow_unknown_events=False)
    assert event["event"] == event_type
    data: dict[str, Any] = dict(event["data"])
    assert data["extra_field"] == 1
    plain = tw.generate_test_event(event_type, id="fixed", now=1705314600)
    assert "x-threetone-signature" not in plain.headers
    template = events.SAMPLE_TEMPLATES[event_type]
    assert "#" in template
    assert plain.body == template.replace("@", "2024-01-15T10:30:00Z", 1).replace("#", "fixed")


def test_generate_test_event_fills_the_template_as_the_core_does() -> None:
    hostile = 'q"uote\\ @#$& $1 é\n'
    body = tw.generate_test_event("agent_busy", id=hostile, now=1705314600.9).body
    filled = json.loads(body)
    assert filled["timestamp"] == "2024-01-15T10:30:00Z", "whole seconds, UTC"
    assert filled["data"]["call_id"] == f"call_{hostile}"
    assert filled["data"]["agent_id"] == f"agent_{hostile}"
    assert tw.parse_event(body)["event"] == "agent_busy"
    with pytest.raises(ValueError, match="unknown event type"):
        tw.generate_test_event("nope")  # type: ignore[arg-type]
    nested = tw.generate_test_event(
        "call_started", overrides={"data": {"metadata": {"call_queue": "vip"}}}
    ).body
    metadata = json.loads(nested)["data"]["metadata"]
    assert metadata == {"caller_location": "New York, NY", "call_queue": "vip"}


def test_bodies_of_every_kind_and_the_reused_buffer() -> None:
    # A body that grows wasm memory (and moves the buffer), then small ones again,
    # then one past what is kept, as bytes and as str with multi-byte characters.
    for size in (64, 4 * 1024 * 1024, 16, 300 * 1024, 64, 0):
        text = ("é日x" * (size // 3 + 1))[:size]
        data = text.encode()
        signature = peer_sign("grow", data)
        assert tw.verify(data, signature, "grow")
        assert tw.verify(text, signature, "grow")
        assert tw.verify(bytearray(data), signature, "grow")
        assert tw.sign(text, "grow") == signature
        wrong = signature[:-1] + ("1" if signature[-1] == "0" else "0")
        assert not tw.verify(text, wrong, "grow")


def test_a_non_utf8_body_is_invalid_json_and_a_lone_surrogate_does_not_crash() -> None:
    body = b'{"event":"agent_busy","timestamp":"2024-01-15T10:30:00Z","data":{"n":"\xff"}}'
    with pytest.raises(tw.WebhookVerificationError) as raised:
        tw.construct_event(body, peer_sign("k", body), "k")
    assert raised.value.code == "invalid_json"
    assert not tw.verify("\ud800", peer_sign("k", "x"), "k")
    with pytest.raises(tw.WebhookVerificationError):
        tw.parse_event('{"event":"\ud800"}')
    assert not tw.verify("x", "sha256=\ud800", "k")


def test_the_event_is_typed_and_narrows_on_its_name() -> None:
    body = seeds()["call_started"]
    event = tw.construct_event(body, peer_sign("k", body), "k")
    if event["event"] == "call_started":
        call_id: str = event["data"]["call_id"]
        assert call_id == "call_abc123"
    else:
        pytest.fail("not a call_started")


def test_the_verifier_cache_is_bounded() -> None:
    from threetone_webhooks import _core

    core = _core.core()
    for index in range(3 * _core.VERIFIER_CACHE_SIZE):
        secret = f"rotating-{index}"
        assert tw.verify("x", peer_sign(secret, "x"), secret)
    assert len(core.cached) == _core.VERIFIER_CACHE_SIZE
    assert f"rotating-{3 * _core.VERIFIER_CACHE_SIZE - 1}" in core.cached
    assert "rotating-0" not in core.cached

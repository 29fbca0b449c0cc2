"""The shared vectors (tests/vectors/*.json), in the form of the other runtimes' suites
(tests/npm/suite.cjs, tests/component/test_component.py), with Python's hmac as the peer."""

from __future__ import annotations

import json
from typing import Any

import pytest

import threetone_webhooks as tw

from conftest import peer_sign, seeds, vectors

SIGNATURES = vectors("signatures.json")["vectors"]
HEADERS = vectors("signature-headers.json")
PAYLOADS = vectors("payload-cases.json")["cases"]


def code_of(call: Any, *args: Any) -> str | None:
    try:
        call(*args)
    except tw.WebhookVerificationError as error:
        return error.code
    return None


def test_there_are_enough_vectors() -> None:
    assert len(SIGNATURES) >= 10
    assert len(HEADERS["cases"]) >= 10
    assert len(PAYLOADS) >= 50


@pytest.mark.parametrize("vector", SIGNATURES, ids=[v["name"] for v in SIGNATURES])
def test_signature_vector(vector: dict[str, str]) -> None:
    # Secrets as bytes: every vector applies, the RFC 4231 ones with non-UTF-8 keys too.
    secret = bytes.fromhex(vector["secret_hex"])
    body = bytes.fromhex(vector["body_hex"])
    assert tw.sign(body, secret) == vector["signature"]
    assert tw.verify(body, vector["signature"], secret)
    assert tw.verify(bytearray(body), vector["signature"], secret)
    assert tw.verify(memoryview(body), vector["signature"], secret)
    assert not tw.verify(body + b" ", vector["signature"], secret)
    try:
        text, key = body.decode(), secret.decode()
    except UnicodeDecodeError:
        return
    assert tw.verify(text, vector["signature"], key)
    assert tw.sign(text, key) == vector["signature"]


@pytest.mark.parametrize("case", HEADERS["cases"], ids=[c["name"] for c in HEADERS["cases"]])
def test_signature_header_case(case: dict[str, Any]) -> None:
    body, secret = HEADERS["body"], HEADERS["secret"]
    assert code_of(tw.verify_or_raise, body, case["header"], secret) == case["code"]
    assert tw.verify(body, case["header"], secret) is (case["code"] is None)
    if case["code"] is not None:
        with pytest.raises(tw.WebhookVerificationError) as raised:
            tw.verify_or_raise(body, case["header"], secret)
        assert raised.value.status == 401
        assert raised.value.message


def test_a_missing_header_is_missing_signature() -> None:
    assert code_of(tw.verify_or_raise, "x", None, "s") == "missing_signature"


@pytest.mark.parametrize("case", PAYLOADS, ids=[c["name"] for c in PAYLOADS])
def test_payload_case(case: dict[str, Any]) -> None:
    body = case["body"]
    if case["code"] is None:
        event = tw.parse_event(body)
        assert event["event"] == case["event"]
        assert event == json.loads(body), "lossless: the same JSON as sent"
        assert tw.parse_event(body.encode()) == event
        return
    with pytest.raises(tw.WebhookVerificationError) as raised:
        tw.parse_event(body)
    error = raised.value
    assert error.code == case["code"], error.message
    assert error.status == 400
    assert error.message
    if case["code"] == "invalid_payload":
        assert error.path == case["path"]
    else:
        assert error.path is None


@pytest.mark.parametrize("name", sorted(seeds()))
def test_seed_payloads_through_construct_event(name: str) -> None:
    body = seeds()[name]
    signature = peer_sign("whsec_seed", body)
    event = tw.construct_event(body, signature, "whsec_seed", allow_unknown_events=False)
    assert event["event"] == name
    assert event == json.loads(body)
    assert tw.construct_event(body.decode(), signature, "whsec_seed")["event"] == name
    assert tw.sign(body, "whsec_seed") == signature
    tampered = body.replace(b"call_abc123", b"call_abc124")
    assert tampered != body
    assert code_of(tw.construct_event, tampered, signature, "whsec_seed") == "signature_mismatch"
    other = peer_sign("whsec_other", body)
    assert code_of(tw.construct_event, body, other, "whsec_seed") == "signature_mismatch"
    assert code_of(tw.construct_event, body, "", "whsec_seed") == "missing_signature"


def _agent_busy(call_id: bytes, note: bytes) -> bytes:
    return (
        b'{"event":"agent_busy","timestamp":"2024-01-15T10:30:00Z","data":{"call_id":"'
        + call_id
        + b'","note":"'
        + note
        + b'"}}'
    )


def test_the_string_scan_finds_every_special_byte_at_every_offset() -> None:
    # The validator scans strings 16 bytes at a time (wasm SIMD): every byte that
    # ends a plain run, at every place in the first three blocks of a string that is
    # captured (call_id) and of one that is skipped (as tests/npm/suite.cjs does).
    valid = [
        b'\\"',
        b"\\\\",
        b"\\n",
        b"\\u00e9",
        b"\\ud83d\\ude00",
        b"/",
        "é".encode(),
        "日".encode(),
        "😀".encode(),
        b"\x7f",
    ]
    invalid = [
        b"\x01",
        b"\x09",
        b"\x1f",
        b'"',
        b"\\",
        b"\xff",
        b"\xc3\x78",
        b"\xc0\x80",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
    ]
    wrong = []
    for at in range(41):
        for validity, inserts in (("valid", valid), ("invalid", invalid)):
            for insert in inserts:
                plain = b"x" * at + insert + b"y" * (40 - at)
                for body in (_agent_busy(plain, b"n"), _agent_busy(b"c", plain)):
                    expected = json.loads(body)["data"] if validity == "valid" else "invalid_json"
                    try:
                        got: object = tw.parse_event(body)["data"]
                    except tw.WebhookVerificationError as error:
                        got = error.code
                    if got != expected:
                        wrong.append((at, insert, body))
    assert wrong == []

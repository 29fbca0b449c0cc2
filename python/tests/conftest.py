"""Shared helpers: the vectors of tests/vectors/ and a signer independent of the core."""

from __future__ import annotations

import hashlib
import hmac
import json
import pathlib
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"
SEEDS = VECTORS / "payloads"
EXAMPLES = ROOT / "python" / "examples"


def vectors(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def peer_sign(secret: str | bytes, body: str | bytes) -> str:
    """``sha256=<hex>`` by Python's own hmac: the peer the core is checked against."""
    key = secret.encode() if isinstance(secret, str) else secret
    data = body.encode() if isinstance(body, str) else body
    return "sha256=" + hmac.new(key, data, hashlib.sha256).hexdigest()


def seeds() -> dict[str, bytes]:
    """The four documented payloads of the seed, by event type."""
    found = {path.stem: path.read_bytes() for path in sorted(SEEDS.glob("*.json"))}
    assert len(found) == 4
    return found


@pytest.fixture
def seed_bodies() -> dict[str, bytes]:
    return seeds()

"""The public API: Python values in, the core's answers out.

Every rule (the signature format, validation, error codes, statuses and messages) is
the Rust core's (see ``_core.py``); this module only adapts Python values to it and
turns its failures into :class:`WebhookVerificationError`.
"""

from __future__ import annotations

import itertools
import json
import secrets as _secrets
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Union, cast

from . import _core
from .events import (
    EVENT_TYPES,
    SAMPLE_ID,
    SAMPLE_TEMPLATES,
    SAMPLE_TIMESTAMP,
    SIGNATURE_HEADER,
    EventType,
    ThreeToneEvent,
)

__all__ = [
    "Body",
    "Secret",
    "Signature",
    "TestEvent",
    "Webhook",
    "WebhookVerificationError",
    "construct_event",
    "generate_test_event",
    "parse_event",
    "sign",
    "too_large_error",
    "verify",
    "verify_or_raise",
]

#: A raw request body: the exact bytes ThreeTone signed (a ``str`` is taken as UTF-8).
Body = Union[bytes, bytearray, memoryview, str]
#: One secret, or several (the current one first, then older ones still accepted).
Secret = Union[str, bytes, Sequence[Union[str, bytes]]]
#: A signature header value; ``None`` (the header is absent) is ``missing_signature``.
Signature = Union[str, bytes, None]

_I64_MAX: Final = 2**63 - 1


class WebhookVerificationError(Exception):
    """A webhook that must not be trusted, or a receiver that cannot check it.

    ``code`` is stable across runtimes (``signature_mismatch``, ``invalid_payload``,
    ...), ``status`` is the HTTP status to answer with (401 forged, 400 invalid, 413
    too large, 503 no secret configured), ``message`` says what is wrong (never a
    secret), and ``path`` is the JSON path of the offending field for
    ``invalid_payload``.
    """

    def __init__(self, code: str, status: int, message: str = "", path: str | None = None) -> None:
        super().__init__(message or code)
        self.code = code
        self.status = status
        self.message = message or code
        self.path = path

    def __repr__(self) -> str:
        path = "" if self.path is None else f", path={self.path!r}"
        return f"WebhookVerificationError({self.code!r}, {self.status}, {self.message!r}{path})"


def _raise(failure: _core.Failure) -> Any:
    raise WebhookVerificationError(failure.code, failure.status, failure.message, failure.path)


def _describe(value: object) -> str:
    return "None" if value is None else f"{type(value).__name__}"


def _raw_body(body: object, caller: str) -> bytes | bytearray | memoryview:
    """The body as bytes, or a TypeError saying how to call right."""
    if isinstance(body, str):
        return body.encode("utf-8", "surrogatepass")
    if isinstance(body, (bytes, bytearray)):
        return body
    if isinstance(body, memoryview):
        return body.cast("B") if body.contiguous else body.tobytes()
    raise TypeError(
        f"{caller}: the body must be the raw request body (bytes or str), got "
        f"{_describe(body)}. The signature covers the exact bytes ThreeTone sent: read the "
        "body raw (Flask: request.get_data(), Starlette: await request.body(), Django: "
        "request.body) instead of passing parsed JSON."
    )


def _header(signature: object, caller: str) -> bytes:
    if signature is None:
        return b""
    if isinstance(signature, str):
        return signature.encode("utf-8", "surrogatepass")
    if isinstance(signature, bytes):
        return signature
    raise TypeError(
        f"{caller}: the signature must be a str (the header's value) or None, "
        f"got {_describe(signature)}."
    )


def _secret_bytes(secret: object, caller: str) -> bytes:
    if isinstance(secret, str):
        return secret.encode("utf-8")
    if isinstance(secret, (bytes, bytearray, memoryview)):
        return bytes(secret)
    raise TypeError(f"{caller}: a secret must be a str or bytes, got {_describe(secret)}.")


def _secret_list(secret: object, caller: str) -> tuple[bytes, ...]:
    """The secrets as bytes; ``None`` is no secret at all (``no_secret``, fail closed)."""
    if secret is None:
        return ()
    if isinstance(secret, (str, bytes, bytearray, memoryview)):
        return (_secret_bytes(secret, caller),)
    if isinstance(secret, Sequence):
        return tuple(_secret_bytes(item, caller) for item in secret)
    raise TypeError(
        f"{caller}: the secret must be a str, bytes or a sequence of them, got {_describe(secret)}."
    )


def _cache_key(secret: object, caller: str) -> object:
    """A hashable key for the verifier of ``secret`` (type included: "a" is not b"a")."""
    if isinstance(secret, (str, bytes)):
        return secret
    if isinstance(secret, (list, tuple)) and all(isinstance(item, (str, bytes)) for item in secret):
        return (list, *secret)
    return (None, *_secret_list(secret, caller))


def _verifier(core: _core.Core, secret: object, caller: str) -> int:
    made = core.cached_verifier(_cache_key(secret, caller), lambda: _secret_list(secret, caller))
    if isinstance(made, _core.Failure):
        _raise(made)
    return cast(int, made)


def _place(core: _core.Core, header: bytes, body: bytes | bytearray | memoryview) -> None:
    if not core.place(header, body):
        _raise(core.too_large(len(body), core.limit(len(header))))


def _options(
    max_age_seconds: int | None, now: float | datetime | None, allow_unknown_events: bool
) -> tuple[int, int, int]:
    """The ABI's (max_age_seconds, now_unix_seconds, flags); the clock is read only when needed."""
    flags = _core.ALLOW_UNKNOWN_EVENTS if allow_unknown_events else 0
    if max_age_seconds is None:
        return -1, 0, flags
    if isinstance(max_age_seconds, bool) or not isinstance(max_age_seconds, int):
        raise TypeError(
            f"max_age_seconds must be an int or None, got {_describe(max_age_seconds)}."
        )
    if max_age_seconds < 0:
        raise ValueError(f"max_age_seconds must not be negative, got {max_age_seconds}.")
    return min(max_age_seconds, _I64_MAX), _unix_seconds(now), flags


def _unix_seconds(now: float | datetime | None) -> int:
    if now is None:
        return int(time.time())
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime (with tzinfo), or Unix seconds.")
        return int(now.timestamp() // 1)
    if isinstance(now, (int, float)) and not isinstance(now, bool):
        return max(min(int(now // 1), _I64_MAX), -_I64_MAX - 1)
    raise TypeError(f"now must be Unix seconds or an aware datetime, got {_describe(now)}.")


def _decoded(body: object, raw: bytes | bytearray | memoryview) -> ThreeToneEvent:
    # Validated by the core: parse the exact text with Python's own parser.
    text = body if isinstance(body, str) else raw.tobytes() if isinstance(raw, memoryview) else raw
    event: ThreeToneEvent = json.loads(text)
    return event


def _verify_with(
    core: _core.Core, handle: int, body: object, signature: object, caller: str
) -> int:
    raw = body if type(body) is bytes else _raw_body(body, caller)
    header = (
        signature.encode("utf-8", "surrogatepass")
        if type(signature) is str
        else _header(signature, caller)
    )
    status = core.verify_call(handle, header, raw)
    if status < 0:
        _raise(core.too_large(len(raw), core.limit(len(header))))
    return status


def _construct_with(
    core: _core.Core,
    handle: int,
    body: object,
    signature: object,
    options: tuple[int, int, int],
) -> ThreeToneEvent:
    raw = body if type(body) is bytes else _raw_body(body, "construct_event")
    header = (
        signature.encode("utf-8", "surrogatepass")
        if type(signature) is str
        else _header(signature, "construct_event")
    )
    status = core.construct_call(handle, header, raw, *options)
    if status:
        if status < 0:
            _raise(core.too_large(len(raw), core.limit(len(header))))
        _raise(core.failure())
    return _decoded(body, raw)


def _sign_with(core: _core.Core, handle: int, body: object) -> str:
    raw = _raw_body(body, "sign")
    _place(core, b"", raw)
    return core.read_output(core.sign_export(handle, len(raw))).decode("ascii")


def verify(body: Body, signature: Signature, secret: Secret | None) -> bool:
    """Whether ``signature`` (the ``X-ThreeTone-Signature`` value) signs ``body`` under
    ``secret`` (or any of several).

    A receiver that is not configured (``secret`` None or empty) raises
    :class:`WebhookVerificationError` (``no_secret``, ``empty_secret``) rather than
    answer False.
    """
    try:
        core = _core.local.core
    except AttributeError:
        core = _core.core()
    # The cached verifier of a single secret, looked up here: this is the hot path.
    kind = type(secret)
    handle = core.cached.get(secret) if kind is str or kind is bytes else None
    if handle is None:
        handle = _verifier(core, secret, "verify")
    return _verify_with(core, handle, body, signature, "verify") == 0


def verify_or_raise(body: Body, signature: Signature, secret: Secret | None) -> None:
    """Like :func:`verify`, but raises a :class:`WebhookVerificationError` saying what is wrong."""
    core = _core.core()
    if _verify_with(
        core, _verifier(core, secret, "verify_or_raise"), body, signature, "verify_or_raise"
    ):
        _raise(core.failure())


def sign(body: Body, secret: Secret) -> str:
    """``sha256=<64 lowercase hex>`` of ``body`` under ``secret`` (the first, if several)."""
    core = _core.core()
    return _sign_with(core, _verifier(core, secret, "sign"), body)


def construct_event(
    body: Body,
    signature: Signature,
    secret: Secret | None,
    *,
    max_age_seconds: int | None = None,
    now: float | datetime | None = None,
    allow_unknown_events: bool = True,
) -> ThreeToneEvent:
    """Verifies the signature, then validates the event and returns it as a dict.

    ``max_age_seconds`` rejects events older (or further ahead) than that, against
    ``now`` (Unix seconds or an aware datetime; the clock by default).
    ``allow_unknown_events=False`` rejects event types the core does not know.
    Raises :class:`WebhookVerificationError`.
    """
    options = _options(max_age_seconds, now, allow_unknown_events)
    core = _core.core()
    return _construct_with(
        core, _verifier(core, secret, "construct_event"), body, signature, options
    )


def parse_event(
    body: Body,
    *,
    max_age_seconds: int | None = None,
    now: float | datetime | None = None,
    allow_unknown_events: bool = True,
) -> ThreeToneEvent:
    """Validates an event whose authenticity is already established (no signature check)."""
    options = _options(max_age_seconds, now, allow_unknown_events)
    core = _core.core()
    raw = _raw_body(body, "parse_event")
    _place(core, b"", raw)
    if core.parse(len(raw), *options):
        _raise(core.failure())
    return _decoded(body, raw)


_webhook_keys = itertools.count(1)
_UNSET: Any = object()


class Webhook:
    """A receiver bound to its secrets (prepared once) and its default options.

    Safe to share between threads: each thread's instance of the core prepares the
    secrets at its first use there.
    """

    __slots__ = ("__weakref__", "_allow_unknown_events", "_key", "_max_age_seconds", "_secrets")

    def __init__(
        self,
        secret: Secret | None,
        *,
        max_age_seconds: int | None = None,
        allow_unknown_events: bool = True,
    ) -> None:
        self._key = next(_webhook_keys)
        self._secrets = _secret_list(secret, "Webhook")
        _options(max_age_seconds, 0, allow_unknown_events)  # checked now, not at the first event
        self._max_age_seconds = max_age_seconds
        self._allow_unknown_events = allow_unknown_events
        weakref.finalize(self, _core.release_webhook, self._key)
        self._handle(_core.core())  # a missing or empty secret fails here

    def __repr__(self) -> str:
        return f"Webhook(<{len(self._secrets)} secret(s)>)"

    def _handle(self, core: _core.Core) -> int:
        made = core.webhook_verifier(self._key, self._secrets)
        if isinstance(made, _core.Failure):
            _raise(made)
        return cast(int, made)

    def verify(self, body: Body, signature: Signature) -> bool:
        """Whether ``signature`` signs ``body`` under any of this receiver's secrets."""
        try:
            core = _core.local.core
        except AttributeError:
            core = _core.core()
        handle = None if core.released else core.webhooks.get(self._key)
        if handle is None:
            handle = self._handle(core)
        return _verify_with(core, handle, body, signature, "verify") == 0

    def verify_or_raise(self, body: Body, signature: Signature) -> None:
        """Like :meth:`verify`, but raises a :class:`WebhookVerificationError`."""
        core = _core.core()
        if _verify_with(core, self._handle(core), body, signature, "verify_or_raise"):
            _raise(core.failure())

    def construct_event(
        self,
        body: Body,
        signature: Signature,
        *,
        max_age_seconds: int | None = _UNSET,
        now: float | datetime | None = None,
        allow_unknown_events: bool = _UNSET,
    ) -> ThreeToneEvent:
        """:func:`construct_event` with this receiver's secrets and default options."""
        options = _options(
            self._max_age_seconds if max_age_seconds is _UNSET else max_age_seconds,
            now,
            self._allow_unknown_events if allow_unknown_events is _UNSET else allow_unknown_events,
        )
        core = _core.core()
        return _construct_with(core, self._handle(core), body, signature, options)

    def sign(self, body: Body) -> str:
        """``sha256=<hex>`` of ``body`` under the first secret."""
        core = _core.core()
        return _sign_with(core, self._handle(core), body)


def too_large_error(length: int, max_length: int) -> WebhookVerificationError:
    """The core's ``payload_too_large`` error (413) for a body over a receiver's limit."""
    failure = _core.core().too_large(length, max_length)
    return WebhookVerificationError(failure.code, failure.status, failure.message, failure.path)


@dataclass(frozen=True)
class TestEvent:
    """A sample event: its JSON ``body`` and the ``headers`` to send it with."""

    __test__ = False  # not a pytest test class

    body: str
    headers: dict[str, str] = field(default_factory=dict)


def _merge(target: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            target[key] = _merge(dict(target[key]), value)
        else:
            target[key] = value
    return target


def generate_test_event(
    type: EventType,
    *,
    secret: Secret | None = None,
    overrides: Mapping[str, Any] | None = None,
    now: float | datetime | None = None,
    id: str | None = None,
) -> TestEvent:
    """A realistic sample event of ``type`` from the core's templates, signed when
    ``secret`` is given; ``overrides`` are merged into it (nested dicts key by key)."""
    if type not in EVENT_TYPES:
        raise ValueError(
            f"generate_test_event: unknown event type {type!r}; "
            f"expected one of {', '.join(EVENT_TYPES)}."
        )
    seconds = _unix_seconds(now)
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError("generate_test_event: now must fall in the years 1 to 9999.") from None
    # The core's template, filled as its sample_event does: whole seconds in UTC,
    # then the id escaped as a JSON string (last, so nothing in it is a placeholder).
    timestamp = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"
    sample_id = _secrets.token_hex(4) if id is None else str(id)
    escaped = json.dumps(sample_id, ensure_ascii=False)[1:-1]
    body = (
        SAMPLE_TEMPLATES[type].replace(SAMPLE_TIMESTAMP, timestamp, 1).replace(SAMPLE_ID, escaped)
    )
    if overrides is not None:
        merged = _merge(json.loads(body), overrides)
        body = json.dumps(merged, ensure_ascii=False, separators=(",", ":"))
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers[SIGNATURE_HEADER.lower()] = sign(body, secret)
    return TestEvent(body, headers)

"""Verify and parse ThreeTone webhooks.

ThreeTone signs each webhook's raw body with HMAC-SHA256 in ``X-ThreeTone-Signature:
sha256=<hex>``. This package checks that signature in constant time and validates the
event against every documented event type, with the same Rust core as the npm package,
the Wasm component and the Cloudflare Worker (compiled to WebAssembly, run by
wasmtime)::

    from threetone_webhooks import construct_event, WebhookVerificationError

    try:
        event = construct_event(request.get_data(), request.headers.get(SIGNATURE_HEADER), secret)
    except WebhookVerificationError as error:
        return {"error": error.code, "message": error.message}, error.status

Framework helpers: :mod:`threetone_webhooks.flask`, :mod:`threetone_webhooks.fastapi`
(Starlette too) and :mod:`threetone_webhooks.django`.
"""

from importlib import metadata as _metadata

from ._api import (
    Body,
    Secret,
    Signature,
    TestEvent,
    Webhook,
    WebhookVerificationError,
    construct_event,
    generate_test_event,
    parse_event,
    sign,
    verify,
    verify_or_raise,
)
from ._core import CoreError
from .events import (
    EVENT_TYPES,
    SIGNATURE_HEADER,
    EventType,
    ThreeToneEvent,
    UnknownEvent,
)

__version__ = _metadata.version("threetone-webhooks")

__all__ = [
    "EVENT_TYPES",
    "SIGNATURE_HEADER",
    "Body",
    "CoreError",
    "EventType",
    "Secret",
    "Signature",
    "TestEvent",
    "ThreeToneEvent",
    "UnknownEvent",
    "Webhook",
    "WebhookVerificationError",
    "__version__",
    "construct_event",
    "generate_test_event",
    "parse_event",
    "sign",
    "verify",
    "verify_or_raise",
]

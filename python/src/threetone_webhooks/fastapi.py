"""FastAPI and Starlette: a dependency that gives a view the verified event.

::

    from typing import Annotated
    from fastapi import Depends, FastAPI
    from threetone_webhooks import ThreeToneEvent
    from threetone_webhooks.fastapi import ThreeToneWebhook, add_exception_handler

    app = FastAPI()
    add_exception_handler(app)
    webhook = ThreeToneWebhook(lambda: os.environ.get("THREETONE_WEBHOOK_SECRET"))

    @app.post("/webhooks/threetone")
    def receive(event: Annotated[ThreeToneEvent, Depends(webhook)]):
        return {"status": "success"}

The body is read as it arrives, within ``max_body_bytes`` (1 MiB by default): a
``Content-Length`` over it is refused with 413 before anything is read, a body sent
without one is cut off at the limit. The dependency raises
:class:`~threetone_webhooks.WebhookVerificationError`; the handler that
:func:`add_exception_handler` installs answers it with its status (401 forged, 400
invalid, 413 too large, 503 no secret) and ``{"error": code, "message": ...}``. Only
Starlette is needed: :func:`verify_starlette_request` is the same check for a plain
Starlette route.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse

from ._api import WebhookVerificationError
from ._http import (
    DEFAULT_MAX_BODY_BYTES,
    Receiver,
    SecretSource,
    error_body,
    parse_content_length,
)
from .events import SIGNATURE_HEADER, ThreeToneEvent

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "ThreeToneWebhook",
    "add_exception_handler",
    "error_response",
    "verify_starlette_request",
]


class ThreeToneWebhook:
    """A FastAPI dependency (``Depends(ThreeToneWebhook(secret))``): the verified event.

    ``secret`` is a :class:`~threetone_webhooks.Webhook`, the secret(s), or a function
    called at each request that returns them (``None``: 503 ``no_secret``).
    """

    def __init__(
        self,
        secret: SecretSource,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_age_seconds: int | None = None,
        allow_unknown_events: bool = True,
    ) -> None:
        self.receiver = Receiver(
            secret,
            max_body_bytes=max_body_bytes,
            max_age_seconds=max_age_seconds,
            allow_unknown_events=allow_unknown_events,
        )

    async def __call__(self, request: Request) -> ThreeToneEvent:
        return await _verify(self.receiver, request)


async def verify_starlette_request(
    request: Request,
    secret: SecretSource,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_age_seconds: int | None = None,
    now: float | datetime | None = None,
    allow_unknown_events: bool = True,
) -> ThreeToneEvent:
    """The verified event of a Starlette ``request``; raises ``WebhookVerificationError``."""
    receiver = Receiver(
        secret,
        max_body_bytes=max_body_bytes,
        max_age_seconds=max_age_seconds,
        allow_unknown_events=allow_unknown_events,
    )
    return await _verify(receiver, request, now)


async def _verify(
    receiver: Receiver, request: Request, now: float | datetime | None = None
) -> ThreeToneEvent:
    receiver.check_length(parse_content_length(request.headers.get("content-length")))
    chunks: list[bytes] = []
    read = 0
    async for chunk in request.stream():
        read += len(chunk)
        if read > receiver.max_body_bytes:
            raise receiver.too_large()
        chunks.append(chunk)
    return receiver.construct(b"".join(chunks), request.headers.get(SIGNATURE_HEADER), now)


def error_response(error: WebhookVerificationError) -> JSONResponse:
    """The answer to a refused webhook: its status and ``{"error", "message"}``."""
    return JSONResponse(error_body(error), status_code=error.status)


async def _handle(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, WebhookVerificationError):  # pragma: no cover - never registered so
        raise error
    return error_response(error)


class _App(Protocol):
    def add_exception_handler(self, exc_class_or_status_code: Any, handler: Any) -> None: ...


def add_exception_handler(app: _App) -> None:
    """Answers ``WebhookVerificationError`` raised in ``app`` (FastAPI or Starlette)."""
    app.add_exception_handler(WebhookVerificationError, _handle)

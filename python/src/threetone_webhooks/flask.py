"""Flask: verify the current request, or decorate a view that receives the event.

::

    from flask import Flask
    from threetone_webhooks.flask import threetone_webhook

    app = Flask(__name__)

    @app.post("/webhooks/threetone")
    @threetone_webhook(lambda: os.environ.get("THREETONE_WEBHOOK_SECRET"))
    def receive(event):
        ...
        return {"status": "success"}

The body is read with ``request.get_data()`` within ``max_body_bytes`` (1 MiB by
default): a ``Content-Length`` over it is refused with 413 before anything is read.
A refused webhook gets the error's status (401 forged, 400 invalid, 413 too large,
503 no secret) and ``{"error": code, "message": ...}``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flask import Request, Response, jsonify
from flask import request as current_request
from werkzeug.exceptions import RequestEntityTooLarge

from ._api import WebhookVerificationError
from ._http import DEFAULT_MAX_BODY_BYTES, Receiver, SecretSource, error_body
from .events import SIGNATURE_HEADER, ThreeToneEvent

__all__ = ["DEFAULT_MAX_BODY_BYTES", "error_response", "threetone_webhook", "verify_flask_request"]

R = TypeVar("R")


def verify_flask_request(
    secret: SecretSource,
    *,
    request: Request | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_age_seconds: int | None = None,
    now: float | datetime | None = None,
    allow_unknown_events: bool = True,
) -> ThreeToneEvent:
    """The verified event of ``request`` (Flask's current request by default).

    Raises :class:`~threetone_webhooks.WebhookVerificationError`; answer it with
    :func:`error_response`.
    """
    receiver = Receiver(
        secret,
        max_body_bytes=max_body_bytes,
        max_age_seconds=max_age_seconds,
        allow_unknown_events=allow_unknown_events,
    )
    return _verify(receiver, request if request is not None else current_request, now)


def _verify(
    receiver: Receiver, request: Request, now: float | datetime | None = None
) -> ThreeToneEvent:
    receiver.check_length(request.content_length)
    # Also bounds a body sent without Content-Length (by a server that
    # terminates the stream), which werkzeug then reads up to this limit.
    request.max_content_length = receiver.max_body_bytes
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise receiver.too_large() from None
    return receiver.construct(body, request.headers.get(SIGNATURE_HEADER), now)


def error_response(error: WebhookVerificationError) -> tuple[Response, int]:
    """The answer to a refused webhook: its status and ``{"error", "message"}``."""
    return jsonify(error_body(error)), error.status


def threetone_webhook(
    secret: SecretSource,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_age_seconds: int | None = None,
    allow_unknown_events: bool = True,
) -> Callable[[Callable[..., R]], Callable[..., R | tuple[Response, int]]]:
    """Decorates a view: it runs with the verified event as its first argument, and
    never for a refused request (answered with :func:`error_response`).

    ``secret`` is a :class:`~threetone_webhooks.Webhook`, the secret(s), or a function
    called at each request that returns them (``None``: 503 ``no_secret``).
    """
    receiver = Receiver(
        secret,
        max_body_bytes=max_body_bytes,
        max_age_seconds=max_age_seconds,
        allow_unknown_events=allow_unknown_events,
    )

    def decorate(view: Callable[..., R]) -> Callable[..., R | tuple[Response, int]]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> R | tuple[Response, int]:
            try:
                event = _verify(receiver, current_request)
            except WebhookVerificationError as error:
                return error_response(error)
            return view(event, *args, **kwargs)

        return wrapper

    return decorate

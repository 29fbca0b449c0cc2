"""Django: a view decorator that gives the view the verified event.

::

    from threetone_webhooks.django import threetone_webhook

    @threetone_webhook(lambda: settings.THREETONE_WEBHOOK_SECRET)
    def receive(request, event):
        return JsonResponse({"status": "success"})

The view answers POST only (405 otherwise) and is exempt from CSRF checks (ThreeTone
signs its requests instead). The body is read within ``max_body_bytes`` (1 MiB by
default): a ``Content-Length`` over it is refused with 413 before anything is read.
A refused webhook gets the error's status (401 forged, 400 invalid, 413 too large,
503 no secret) and ``{"error": code, "message": ...}``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, cast

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from ._api import WebhookVerificationError
from ._http import (
    DEFAULT_MAX_BODY_BYTES,
    Receiver,
    SecretSource,
    error_body,
    parse_content_length,
)
from .events import SIGNATURE_HEADER, ThreeToneEvent

__all__ = ["DEFAULT_MAX_BODY_BYTES", "error_response", "threetone_webhook", "verify_django_request"]

P = ParamSpec("P")
View = Callable[Concatenate[HttpRequest, ThreeToneEvent, P], HttpResponse]


def verify_django_request(
    request: HttpRequest,
    secret: SecretSource,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_age_seconds: int | None = None,
    allow_unknown_events: bool = True,
) -> ThreeToneEvent:
    """The verified event of ``request``; raises ``WebhookVerificationError``."""
    receiver = Receiver(
        secret,
        max_body_bytes=max_body_bytes,
        max_age_seconds=max_age_seconds,
        allow_unknown_events=allow_unknown_events,
    )
    return _verify(receiver, request)


def _verify(receiver: Receiver, request: HttpRequest) -> ThreeToneEvent:
    receiver.check_length(parse_content_length(request.META.get("CONTENT_LENGTH")))
    # Django reads no more than Content-Length (none: an empty body).
    try:
        body = request.body
    except RequestDataTooBig:  # over DATA_UPLOAD_MAX_MEMORY_SIZE, when that is lower
        raise receiver.too_large() from None
    return receiver.construct(body, request.headers.get(SIGNATURE_HEADER))


def error_response(error: WebhookVerificationError) -> JsonResponse:
    """The answer to a refused webhook: its status and ``{"error", "message"}``."""
    return JsonResponse(error_body(error), status=error.status)


def threetone_webhook(
    secret: SecretSource,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_age_seconds: int | None = None,
    allow_unknown_events: bool = True,
) -> Callable[[View[P]], Callable[Concatenate[HttpRequest, P], HttpResponse]]:
    """Decorates a view ``view(request, event, ...)``: it runs only for a verified event.

    ``secret`` is a :class:`~threetone_webhooks.Webhook`, the secret(s), or a function
    called at each request that returns them (``None``: 503 ``no_secret``).
    """
    receiver = Receiver(
        secret,
        max_body_bytes=max_body_bytes,
        max_age_seconds=max_age_seconds,
        allow_unknown_events=allow_unknown_events,
    )

    def decorate(view: View[P]) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
            if request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            try:
                event = _verify(receiver, request)
            except WebhookVerificationError as error:
                return error_response(error)
            return view(request, event, *args, **kwargs)

        return cast(Callable[Concatenate[HttpRequest, P], HttpResponse], csrf_exempt(wrapper))

    return decorate

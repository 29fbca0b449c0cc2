"""What the framework helpers share: the receiver, the body limit, the error answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final, Union

from ._api import Secret, Webhook, WebhookVerificationError, too_large_error
from .events import ThreeToneEvent

__all__ = ["DEFAULT_MAX_BODY_BYTES", "Receiver", "SecretSource", "error_body"]

#: The largest body a helper reads by default: 1 MiB.
DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024

#: Where a helper's secrets come from: a prepared :class:`Webhook` (best), the secret(s)
#: themselves, or a function called at each request (say, reading the environment);
#: ``None``, or a function that returns it, answers 503 ``no_secret`` (fail closed).
SecretSource = Union[Webhook, Secret, Callable[[], Union[Secret, None]], None]


def error_body(error: WebhookVerificationError) -> dict[str, str]:
    """The JSON answer to a refused webhook: ``{"error": code, "message": ...}``."""
    return {"error": error.code, "message": error.message}


class Receiver:
    """One endpoint's secrets, body limit and options."""

    def __init__(
        self,
        secret: SecretSource,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_age_seconds: int | None = None,
        allow_unknown_events: bool = True,
    ) -> None:
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
            raise TypeError("max_body_bytes must be an int")
        if max_body_bytes < 0:
            raise ValueError("max_body_bytes must not be negative")
        self.secret = secret
        self.max_body_bytes = max_body_bytes
        self.max_age_seconds = max_age_seconds
        self.allow_unknown_events = allow_unknown_events
        self._webhook: Webhook | None = None
        self._webhook_for: object = None

    def webhook(self) -> Webhook:
        """The Webhook for the current secrets (made once per distinct secret value)."""
        if isinstance(self.secret, Webhook):
            return self.secret
        secret = self.secret() if callable(self.secret) else self.secret
        if self._webhook is not None and self._webhook_for == secret:
            return self._webhook
        webhook = Webhook(secret)
        self._webhook, self._webhook_for = webhook, secret
        return webhook

    def check_length(self, content_length: int | None) -> None:
        """Refuses a declared ``Content-Length`` over the limit before the body is read."""
        if content_length is not None and content_length > self.max_body_bytes:
            raise too_large_error(content_length, self.max_body_bytes)

    def too_large(self) -> WebhookVerificationError:
        """The error for a body without a length that went past the limit while read."""
        return too_large_error(self.max_body_bytes + 1, self.max_body_bytes)

    def construct(
        self, body: bytes, signature: str | None, now: float | datetime | None = None
    ) -> ThreeToneEvent:
        self.check_length(len(body))
        return self.webhook().construct_event(
            body,
            signature,
            max_age_seconds=self.max_age_seconds,
            now=now,
            allow_unknown_events=self.allow_unknown_events,
        )


def parse_content_length(value: str | None) -> int | None:
    """A ``Content-Length`` value as a number; None when absent or not a number."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value)

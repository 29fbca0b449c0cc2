"""The Flask handler of ThreeTone's webhook documentation, with threetone-webhooks.

The documented version compares signatures with ``!=`` (not in constant time), calls
``json.loads`` on whatever arrives, and has no body limit. Here the core checks the
signature in constant time, validates the event (a forged request is 401, a malformed
one 400, one over 1 MiB 413 before it is read, a missing secret 503, each with
``{"error": code, "message": ...}``), and the handler gets a typed event.

Run it: ``THREETONE_WEBHOOK_SECRET=... flask --app flask_app run``.
"""

from __future__ import annotations

import os

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

from threetone_webhooks import ThreeToneEvent
from threetone_webhooks.events import CallEnded, CallStarted
from threetone_webhooks.flask import threetone_webhook

app = Flask(__name__)

#: What the handlers saw, for the example's test.
processed: list[tuple[str, str]] = []


def process_call_started(data: CallStarted) -> None:
    processed.append(("call_started", data["call_id"]))


def process_call_ended(data: CallEnded) -> None:
    processed.append(("call_ended", data["call_id"]))


@app.route("/webhooks/threetone", methods=["POST"])
# Read at each request: an unset secret answers 503 (ThreeTone retries) instead of
# accepting anything.
@threetone_webhook(lambda: os.environ.get("THREETONE_WEBHOOK_SECRET"))
def handle_webhook(event: ThreeToneEvent) -> ResponseReturnValue:
    # Process event
    if event["event"] == "call_started":
        process_call_started(event["data"])
    elif event["event"] == "call_ended":
        process_call_ended(event["data"])
    return jsonify({"status": "success"}), 200

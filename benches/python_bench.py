"""Benchmark (not a test): the Python package against the standard library.

``verify`` against ``hmac.new(...).hexdigest()`` + ``hmac.compare_digest``, and
``construct_event`` against that + ``json.loads`` (which validates nothing), at 256 B,
1 KiB and 16 KiB, in one process: each round runs every implementation once, in turn,
and a cell is the best of its rounds (a slow moment of a shared machine then lands on
no implementation in particular). Then where the time of a 1 KiB ``verify`` goes, and
threads: each has its own instance of the core, against the same calls behind one lock.

Run with ``cargo xtask bench`` (it builds the wheel and installs it into
target/python/venv), or with that virtualenv's Python.

Usage: python_bench.py [seconds per cell]  (default 1.5)
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import importlib.metadata
import json
import os
import platform
import sys
import threading
import time
from collections.abc import Callable

import threetone_webhooks as tw
from threetone_webhooks import _core

SECRET = b"whsec_bench_secret_0123456789"
SIZES = (256, 1024, 16 * 1024)
ROUNDS = 7


def event_body(size: int) -> bytes:
    """A valid call_started event of exactly ``size`` bytes (its metadata padded)."""
    sample = json.loads(tw.generate_test_event("call_started", id="b", now=1705314600).body)
    sample["data"]["metadata"] = {"note": ""}
    base = len(json.dumps(sample, separators=(",", ":")).encode())
    sample["data"]["metadata"]["note"] = "x" * (size - base)
    body = json.dumps(sample, separators=(",", ":")).encode()
    assert len(body) == size, (len(body), size)
    return body


def stdlib_verify(body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def stdlib_construct(body: bytes, header: str) -> object:
    if not stdlib_verify(body, header):
        raise ValueError("forged")
    return json.loads(body)


def rate(call: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``call`` over about ``seconds``."""
    batch, calls = 64, 0
    start = now = time.perf_counter()
    while now - start < seconds:
        for _ in range(batch):
            call()
        calls += batch
        now = time.perf_counter()
    return calls / (now - start)


def best_of_rounds(calls: dict[str, Callable[[], object]], seconds: float) -> dict[str, float]:
    """The best calls/s of each, over ROUNDS rounds that run them in turn."""
    for call in calls.values():
        rate(call, 0.05)  # warm up
    best = dict.fromkeys(calls, 0.0)
    per_round = seconds / ROUNDS / len(calls)
    for _ in range(ROUNDS):
        for name, call in calls.items():
            best[name] = max(best[name], rate(call, per_round))
    return best


def table(seconds: float) -> None:
    webhook = tw.Webhook(SECRET)
    print("| body | verify | stdlib hmac | ratio | construct_event | stdlib + json.loads | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for size in SIZES:
        body = event_body(size)
        header = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        assert webhook.verify(body, header) and stdlib_verify(body, header)
        assert webhook.construct_event(body, header) == stdlib_construct(body, header)
        best = best_of_rounds(
            {
                "verify": functools.partial(tw.verify, body, header, SECRET),
                "stdlib": functools.partial(stdlib_verify, body, header),
                "construct": functools.partial(tw.construct_event, body, header, SECRET),
                "stdlib+json": functools.partial(stdlib_construct, body, header),
            },
            seconds,
        )
        print(
            f"| {size} B | {best['verify']:,.0f}/s | {best['stdlib']:,.0f}/s "
            f"| {best['verify'] / best['stdlib']:.2f}x | {best['construct']:,.0f}/s "
            f"| {best['stdlib+json']:,.0f}/s | {best['construct'] / best['stdlib+json']:.2f}x |"
        )


def where_the_time_goes(seconds: float) -> None:
    """A 1 KiB verify, layer by layer: the wasm call alone, then each Python layer."""
    body = event_body(1024)
    header = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    webhook = tw.Webhook(SECRET)
    core = _core.core()
    handle = core.webhooks[webhook._key]
    encoded = header.encode()
    empty = "sha256=" + hmac.new(SECRET, b"", hashlib.sha256).hexdigest()
    best = best_of_rounds(
        {
            "call with no header (ABI floor)": lambda: core.verify_call(handle, b"", b""),
            "empty body, Webhook.verify": lambda: webhook.verify(b"", empty),
            "1 KiB, core.verify_call": lambda: core.verify_call(handle, encoded, body),
            "1 KiB, Webhook.verify": lambda: webhook.verify(body, header),
            "1 KiB, verify()": lambda: tw.verify(body, header, SECRET),
            "1 KiB, hmac.new().hexdigest()": lambda: hmac.new(
                SECRET, body, hashlib.sha256
            ).hexdigest(),
        },
        seconds,
    )
    print("\n| 1 KiB verify, layer by layer | µs/call |")
    print("| --- | --- |")
    for name, calls in best.items():
        print(f"| {name} | {1e6 / calls:.2f} |")


def threads(seconds: float) -> None:
    """Total calls/s of verify (16 KiB) from 1 and 2 threads, own instances or one lock."""
    body = event_body(16 * 1024)
    header = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    webhook = tw.Webhook(SECRET)
    lock = threading.Lock()

    def locked() -> bool:
        with lock:
            return webhook.verify(body, header)

    def total(call: Callable[[], object], count: int) -> float:
        results = [0.0] * count

        def run(index: int) -> None:
            results[index] = rate(call, seconds / 6)

        workers = [threading.Thread(target=run, args=(index,)) for index in range(count)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return sum(results)

    def own() -> bool:
        return webhook.verify(body, header)

    one = two = two_locked = 0.0
    for _ in range(3):  # alternating, the best of each
        one = max(one, total(own, 1))
        two = max(two, total(own, 2))
        two_locked = max(two_locked, total(locked, 2))
    print("\n| verify 16 KiB, threads | calls/s (all threads) |")
    print("| --- | --- |")
    print(f"| 1 thread | {one:,.0f} |")
    print(f"| 2 threads, an instance each (the package) | {two:,.0f} ({two / one:.2f}x) |")
    print(
        f"| 2 threads, one instance behind a lock | {two_locked:,.0f} ({two_locked / one:.2f}x) |"
    )


def main(seconds: float) -> None:
    print(
        f"python {platform.python_version()}, wasmtime {importlib.metadata.version('wasmtime')}, "
        f"threetone-webhooks {tw.__version__}, {os.cpu_count()} CPUs, {platform.machine()}; "
        f"best of {ROUNDS} alternating rounds per cell\n"
    )
    table(seconds)
    where_the_time_goes(seconds)
    threads(seconds)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.5)

"""The wasm runtime: one compiled module, one instance per thread, traps recovered."""

from __future__ import annotations

import gc
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import threetone_webhooks as tw
from threetone_webhooks import _core

from conftest import peer_sign


def test_threads_get_their_own_instance_and_agree() -> None:
    webhook = tw.Webhook(["t_new", "t_old"])
    bodies = [f"body {index} ".encode() * (index * 37 % 500) for index in range(200)]

    def check(index: int) -> tuple[int, bool, bool, bool]:
        body = bodies[index]
        secret = "t_new" if index % 2 else "t_old"
        good = peer_sign(secret, body)
        return (
            id(_core.core()),
            webhook.verify(body, good),
            tw.verify(body, good, secret),
            webhook.verify(body + b"!", good),
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(check, range(len(bodies))))
    assert all(ok and also and not forged for _, ok, also, forged in results)
    assert len({instance for instance, *_ in results}) >= 2, "one instance per thread"
    assert id(_core.core()) not in {instance for instance, *_ in results}


def test_a_collected_webhook_frees_its_verifier_in_every_instance() -> None:
    holder = [tw.Webhook("short-lived")]
    key = holder[0]._key
    here = _core.core()
    assert key in here.webhooks
    elsewhere: list[_core.Core] = []

    def use() -> None:
        assert holder[0].verify("x", peer_sign("short-lived", "x"))
        elsewhere.append(_core.core())

    thread = threading.Thread(target=use)
    thread.start()
    thread.join()
    holder.clear()
    gc.collect()
    assert key in here.released
    tw.Webhook("another")  # the next lookup in this thread frees it
    assert key not in here.webhooks and key not in here.released
    assert key in elsewhere[0].released


def test_a_trap_is_a_core_error_and_the_next_call_gets_a_fresh_instance() -> None:
    _core.drop_core(_core.core())
    limited = _core.core()
    # Little room to grow: preparing 20000 secrets runs out of memory inside the
    # core, which aborts (a trap), not an error it can return.
    limited.store.set_limits(memory_size=len(limited._view()) + 256 * 1024)
    with pytest.raises(tw.CoreError, match="tt_verifier_new"):
        tw.Webhook([b"k"] * 20000)
    assert limited.broken
    with pytest.raises(tw.CoreError):
        limited.verify_call(1, b"", b"")
    fresh = _core.core()
    assert fresh is not limited
    assert tw.verify("after", peer_sign("k", "after"), "k")
    assert tw.Webhook([b"k"] * 20000).verify("x", peer_sign("k", "x"))


def test_a_body_larger_than_wasm_memory_can_grow_is_payload_too_large() -> None:
    _core.drop_core(_core.core())  # a fresh instance, with a small buffer
    limited = _core.core()
    limited.store.set_limits(memory_size=len(limited._view()) + 1024 * 1024)
    try:
        body = b"x" * (4 * 1024 * 1024)
        with pytest.raises(tw.WebhookVerificationError) as raised:
            tw.verify_or_raise(body, peer_sign("k", body), "k")
        assert (raised.value.code, raised.value.status) == ("payload_too_large", 413)
        message = raised.value.message
        assert message.startswith(f"body is {len(body)} bytes, more than the allowed "), message
        assert not limited.broken, "refused, not trapped"
        assert tw.verify("small", peer_sign("k", "small"), "k")
        assert _core.core() is limited
    finally:
        _core.drop_core(limited)


def test_the_public_wasmtime_api_gives_the_same_answers() -> None:
    fast, public = _core.Core(), _core.Core(fast=False)
    assert fast.fast and not public.fast
    body, header = b"Hello, World!", peer_sign("k", b"Hello, World!").encode()
    for core in (fast, public):
        handle = core.new_verifier((b"k",))
        assert isinstance(handle, int)
        assert core.verify_call(handle, header, body) == 0
        assert core.verify_call(handle, header, body + b"?") == 401
        assert core.failure().code == "signature_mismatch"
        assert core.construct_call(handle, header, body, -1, 0, 1) == 400
        assert core.failure().code == "invalid_json"
        core.place(b"", body)
        assert core.read_output(core.sign_export(handle, len(body))) == header


def test_a_forked_child_keeps_working() -> None:
    tw.verify("x", peer_sign("k", "x"), "k")  # an instance exists before the fork
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        ok = tw.verify("child", peer_sign("k", "child"), "k") and not tw.verify(
            "child", peer_sign("j", "child"), "k"
        )
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0

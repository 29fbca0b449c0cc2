"""The Rust core, compiled to a plain wasm module (``_core.wasm``), run by wasmtime.

Every rule lives in the core; this module only moves bytes and integers across the
boundary (``python/abi/src/lib.rs`` describes the ABI). It is built for speed:

- The module is compiled once per process; each thread gets its own instance (170 us
  to make, 1.1 MiB of wasm memory): a wasmtime ``Store`` is not thread-safe, and wasm
  runs with the GIL released, so threads verify in parallel. Measured at 16 KiB, two
  threads with an instance each made 1.5x-2.1x the calls/s of one thread; the same two
  behind one lock, 0.8x-0.9x (BENCHMARKS.md).
- A call's header and body are copied into one reused buffer owned by Rust with two
  slice assignments into a ``memoryview`` of wasm memory (no Python loop, no ctypes
  call): wasm memory is configured never to move (``memory_may_move = False``).
- Exports are called through wasmtime's ``wasmtime_func_call_unchecked`` with ready
  ctypes values, the arguments packed by one ``struct`` call: 0.9 us a call (0.7 us on
  the hot paths, written out below), against 28 us through ``wasmtime.Func.__call__``,
  which looks the function's type up and converts every value at each call. Where this
  wasmtime lacks that binding, the public ``Func`` API is used (same answers, slower).

A trap (which a correct core never raises: out of memory is the one way) becomes a
:class:`CoreError`, and the thread's instance is dropped: the next call gets a new one.
"""

from __future__ import annotations

import ctypes
import struct
import threading
import weakref
from collections.abc import Callable
from importlib import resources
from typing import Any, Final

import wasmtime

__all__ = ["Core", "CoreError", "Failure", "Input", "core", "drop_core"]

#: What goes into wasm memory as a body.
Input = bytes | bytearray | memoryview

# Mirrors of python/abi/src/lib.rs.
RETAINED_CAPACITY: Final = 256 * 1024
ALLOW_UNKNOWN_EVENTS: Final = 1
NO_PATH: Final = 0xFFFFFFFF
# The most an input can take: a Rust Vec holds at most isize::MAX bytes on wasm32.
MAX_INPUT_BYTES: Final = 2**31 - 1
WASM_ADDRESS_SPACE: Final = 2**32
# Verifiers kept per instance for the functional API (keyed by their secrets).
VERIFIER_CACHE_SIZE: Final = 16


class CoreError(RuntimeError):
    """The wasm core failed (a trap, such as running out of memory).

    Never raised for a bad request: those are :class:`WebhookVerificationError`. The
    instance that failed is dropped; the next call runs in a fresh one.
    """


class Failure:
    """An error the core reported: the parts of a ``WebhookVerificationError``."""

    __slots__ = ("code", "message", "path", "status")

    def __init__(self, code: str, status: int, message: str, path: str | None) -> None:
        self.code = code
        self.status = status
        self.message = message
        self.path = path


def _load_module() -> tuple[wasmtime.Engine, wasmtime.Module]:
    config = wasmtime.Config()
    # The base address of wasm memory stays put for an instance's life, so a
    # memoryview of it stays valid; growing past the reservation fails instead
    # (the core then reports payload_too_large).
    config.memory_may_move = False
    engine = wasmtime.Engine(config)
    wasm = resources.files(__package__).joinpath("_core.wasm").read_bytes()
    return engine, wasmtime.Module(engine, wasm)


_ENGINE, _MODULE = _load_module()


def _raw_caller() -> tuple[Any, Callable[..., int | None]] | None:
    """wasmtime's ctypes bindings, and ``wasmtime_func_call_unchecked`` without a
    prototype (called with ready ctypes values: nothing to convert, 0.15 us less a call),
    if this wasmtime has them (they are not its public API)."""
    try:
        from wasmtime import _bindings

        dll = getattr(_bindings, "dll")  # noqa: B009 (not in its __all__)
        # A new function object: the bindings' own has a prototype.
        caller: Callable[..., int | None] = dll["wasmtime_func_call_unchecked"]
        _bindings.wasm_trap_t, _bindings.wasmtime_error_t  # noqa: B018 (both are needed)
    except (ImportError, AttributeError, KeyError):
        return None
    caller.restype = ctypes.c_void_p  # type: ignore[attr-defined]
    caller.argtypes = None  # type: ignore[attr-defined]
    return _bindings, caller


_BINDINGS: Any
_BINDINGS, _RAW_CALL = _raw_caller() or (None, None)

# Each export's parameters as packed into wasmtime_val_raw slots (16 bytes each:
# an i32 or i64 at the start of its slot), and the wasm types of the fallback.
_I32, _I64 = "I12x", "q8x"
_SIGNATURES: Final = {
    "tt_reserve": (_I32,),
    "tt_verifier_new": (_I32, _I32),
    "tt_verifier_free": (_I32,),
    "tt_verify": (_I32, _I32, _I32),
    "tt_construct": (_I32, _I32, _I32, _I64, _I64, _I32),
    "tt_parse": (_I32, _I64, _I64, _I32),
    "tt_sign": (_I32, _I32),
    "tt_too_large": (_I64, _I64),
    "tt_error": (),
    "tt_output": (),
}
_RESULT = struct.Struct("<I")
# The number of wasmtime_val_raw slots of a call, as ready C values.
_SLOTS = [ctypes.c_size_t(count) for count in range(7)]
_PACK_VERIFY = struct.Struct("<" + "".join(_SIGNATURES["tt_verify"])).pack_into
_PACK_CONSTRUCT = struct.Struct("<" + "".join(_SIGNATURES["tt_construct"])).pack_into
_RECORD_HEAD = struct.Struct("<HHII")


def _no_raw_call(*args: object) -> int | None:
    raise AssertionError("only the fast path calls wasm directly")


class _Export:
    """One export, called with integers; returns its i32 result (0 if it has none)."""

    __slots__ = ("core", "func", "func_address", "name", "pack", "slots")

    def __init__(self, core: Core, name: str, func: wasmtime.Func) -> None:
        params = _SIGNATURES[name]
        self.core = core
        self.name = name
        self.pack = struct.Struct("<" + "".join(params)).pack_into
        self.slots = max(len(params), 1)
        self.func = func
        self.func_address = ctypes.c_void_p(ctypes.addressof(func._func))

    def __call__(self, *args: int) -> int:
        core = self.core
        if core.broken:
            raise CoreError("this core instance failed earlier; it is no longer used")
        if not core.fast:
            return self._call_public(*args)
        self.pack(core.args_view, 0, *args)
        error = core.raw_call(
            core.context, self.func_address, core.args, _SLOTS[self.slots], core.trap_pointer
        )
        if error or core.trap.value:
            core.fail(self.name, error)
        result: int = _RESULT.unpack_from(core.args_view)[0]
        return result

    def _call_public(self, *args: int) -> int:
        core = self.core
        try:
            result = self.func(core.store, *args)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as error:
            core.broken = True
            drop_core(core)
            raise CoreError(f"the wasm core failed in {self.name}: {error}") from None
        return int(result) & 0xFFFFFFFF if result is not None else 0


class Core:
    """One instance of the core, used by one thread only."""

    def __init__(self, fast: bool = True) -> None:
        self.fast = fast and _RAW_CALL is not None
        self.raw_call: Callable[..., int | None] = _RAW_CALL or _no_raw_call
        self.broken = False
        self.store = wasmtime.Store(_ENGINE)
        instance = wasmtime.Instance(self.store, _MODULE, [])
        exports = instance.exports(self.store)
        memory = exports["memory"]
        assert isinstance(memory, wasmtime.Memory)
        self.memory = memory
        context = ctypes.cast(self.store._context(), ctypes.c_void_p).value
        assert context is not None
        self.context = ctypes.c_void_p(context)
        # Arguments and result of a raw call: up to 6 wasmtime_val_raw slots.
        self.args = (ctypes.c_ubyte * (16 * 6))()
        self.args_view = memoryview(self.args).cast("B")
        # The first slot's i32: the result.
        self.result = ctypes.c_uint32.from_buffer(self.args)
        self.trap = ctypes.c_void_p()
        self.trap_pointer = ctypes.c_void_p(ctypes.addressof(self.trap))
        self.base = ctypes.addressof(memory.data_ptr(self.store).contents)
        self.view = self._view()
        calls: dict[str, _Export] = {}
        for name in _SIGNATURES:
            func = exports[name]
            assert isinstance(func, wasmtime.Func)
            calls[name] = _Export(self, name, func)
        self.reserve_export = calls["tt_reserve"]
        self.verifier_new = calls["tt_verifier_new"]
        self.verifier_free = calls["tt_verifier_free"]
        self.verify = calls["tt_verify"]
        self.verify_address = self.verify.func_address
        self.construct = calls["tt_construct"]
        self.construct_address = self.construct.func_address
        self.parse = calls["tt_parse"]
        self.sign_export = calls["tt_sign"]
        self.too_large_export = calls["tt_too_large"]
        self.error_export = calls["tt_error"]
        self.output = calls["tt_output"]
        self.input_address = 0
        self.input_capacity = 0
        # Verifiers by their secrets (the functional API), oldest first.
        self.cached: dict[object, int] = {}
        # Verifiers of Webhook objects, by the object's key; keys of collected
        # Webhooks wait in `released` until this thread next calls.
        self.webhooks: dict[int, int] = {}
        self.released: list[int] = []

    def _view(self) -> memoryview:
        """A view of the whole of wasm memory as it is now."""
        length = self.memory.data_len(self.store)
        return memoryview((ctypes.c_ubyte * length).from_address(self.base)).cast("B")

    def fail(self, name: str, error: int | None) -> None:
        """Turns a trap or a wasmtime error into a CoreError; drops this instance."""
        self.broken = True
        drop_core(self)
        pointer: Any
        if error:
            pointer = ctypes.cast(error, ctypes.POINTER(_BINDINGS.wasmtime_error_t))
            detail = str(wasmtime.WasmtimeError._from_ptr(pointer))
        else:
            pointer = ctypes.cast(
                ctypes.c_void_p(self.trap.value), ctypes.POINTER(_BINDINGS.wasm_trap_t)
            )
            self.trap.value = None
            detail = str(wasmtime.Trap._from_ptr(pointer))
        raise CoreError(f"the wasm core failed in {name}: {detail.splitlines()[0]}")

    def reserve(self, capacity: int) -> int | None:
        """The address of an input buffer of at least ``capacity`` bytes, or None."""
        if capacity > MAX_INPUT_BYTES:
            return None
        shrink = capacity <= RETAINED_CAPACITY < self.input_capacity
        if capacity > self.input_capacity or shrink:
            address = self.reserve_export(capacity)
            if address == 0:
                return None
            self.input_address = address
            self.input_capacity = max(capacity, 1)
            if address + capacity > len(self.view):
                self.view = self._view()
        return self.input_address

    def place(self, header: bytes, body: bytes | bytearray | memoryview) -> bool:
        """Writes ``header`` then ``body`` into the input; False if they do not fit."""
        header_length = len(header)
        needed = header_length + len(body)
        # A larger input, or a small one after a buffer past what is kept (given back).
        if needed > self.input_capacity or needed <= RETAINED_CAPACITY < self.input_capacity:
            start = self.reserve(needed)
            if start is None:
                return False
        else:
            start = self.input_address
        view = self.view
        view[start : start + header_length] = header
        view[start + header_length : start + needed] = body
        return True

    # The calls each request makes, written out: a Python call level costs about
    # 0.1 us, a tenth of a whole verify of an empty body.

    def verify_call(self, handle: int, header: bytes, body: Input) -> int:
        """0 if ``header`` signs ``body``, else the error's status; -1: too large for the input."""
        header_length = len(header)
        needed = header_length + len(body)
        capacity = self.input_capacity
        if needed <= capacity and not needed <= RETAINED_CAPACITY < capacity:
            start = self.input_address  # place(), written out: the common case
            view = self.view
            view[start : start + header_length] = header
            view[start + header_length : start + needed] = body
        elif not self.place(header, body):
            return -1
        if not self.fast:
            return self.verify(handle, header_length, len(body))
        _PACK_VERIFY(self.args_view, 0, handle, header_length, len(body))
        error = self.raw_call(
            self.context, self.verify_address, self.args, _SLOTS[3], self.trap_pointer
        )
        if error or self.trap.value:
            self.fail("tt_verify", error)
        result: int = self.result.value
        return result

    def construct_call(
        self, handle: int, header: bytes, body: Input, max_age: int, now: int, flags: int
    ) -> int:
        """Verifies and validates: 0, the error's status, or -1: too large for the input."""
        if not self.place(header, body):
            return -1
        if not self.fast:
            return self.construct(handle, len(header), len(body), max_age, now, flags)
        _PACK_CONSTRUCT(self.args_view, 0, handle, len(header), len(body), max_age, now, flags)
        error = self.raw_call(
            self.context, self.construct_address, self.args, _SLOTS[6], self.trap_pointer
        )
        if error or self.trap.value:
            self.fail("tt_construct", error)
        result: int = self.result.value
        return result

    def limit(self, header_length: int) -> int:
        """The largest body an input could take after a header of ``header_length`` bytes."""
        growable = WASM_ADDRESS_SPACE - self.memory.data_len(self.store)
        return max(min(MAX_INPUT_BYTES, growable + self.input_capacity) - header_length, 0)

    def read_output(self, length: int) -> bytes:
        start = self.output()
        if start + length > len(self.view):
            self.view = self._view()
        return bytes(self.view[start : start + length])

    def failure(self) -> Failure:
        """The error of the last call that failed, as the core describes it."""
        length = self.error_export()
        record = self.read_output(length)
        status, code_length, path_length, message_length = _RECORD_HEAD.unpack_from(record)
        at = _RECORD_HEAD.size
        code = record[at : at + code_length].decode()
        at += code_length
        path = None
        if path_length != NO_PATH:
            path = record[at : at + path_length].decode()
            at += path_length
        message = record[at : at + message_length].decode()
        return Failure(code, status, message, path)

    def too_large(self, length: int, max_length: int) -> Failure:
        """The core's ``payload_too_large`` error for a body of ``length`` bytes."""
        self.too_large_export(min(length, 2**63 - 1), min(max_length, 2**63 - 1))
        return self.failure()

    def new_verifier(self, secrets: tuple[bytes, ...]) -> int | Failure:
        """A verifier's handle, or the core's error (``no_secret``, ``empty_secret``)."""
        packed = b"".join(struct.pack("<I", len(secret)) + secret for secret in secrets)
        if not self.place(b"", packed):
            return self.too_large(len(packed), self.limit(0))
        handle = self.verifier_new(len(secrets), len(packed))
        return handle if handle else self.failure()

    def cached_verifier(
        self, key: object, secrets: Callable[[], tuple[bytes, ...]]
    ) -> int | Failure:
        """The verifier for the secrets ``key`` stands for, made at most once while cached."""
        handle = self.cached.get(key)
        if handle is not None:
            return handle
        made = self.new_verifier(secrets())
        if isinstance(made, int):
            if len(self.cached) >= VERIFIER_CACHE_SIZE:
                # The oldest goes: a process that rotates secrets does not grow this.
                self.verifier_free(self.cached.pop(next(iter(self.cached))))
            self.cached[key] = made
        return made

    def webhook_verifier(self, key: int, secrets: tuple[bytes, ...]) -> int | Failure:
        """The verifier of the Webhook ``key`` in this instance, made at its first use here."""
        if self.released:
            self._free_released()
        handle = self.webhooks.get(key)
        if handle is not None:
            return handle
        made = self.new_verifier(secrets)
        if isinstance(made, int):
            self.webhooks[key] = made
        return made

    def _free_released(self) -> None:
        while self.released:
            handle = self.webhooks.pop(self.released.pop(), None)
            if handle is not None:
                self.verifier_free(handle)


#: Each thread's instance, as ``local.core``.
local = threading.local()
# Every live instance, to tell each of them about a collected Webhook.
_cores: weakref.WeakSet[Core] = weakref.WeakSet()
# Reentrant: a finalizer that tells them may run in a thread that holds it.
_cores_lock = threading.RLock()


def core() -> Core:
    """This thread's instance of the core, made at its first call."""
    try:
        current: Core = local.core
        return current
    except AttributeError:
        pass
    made = Core()
    with _cores_lock:
        _cores.add(made)
    local.core = made
    return made


def drop_core(failed: Core) -> None:
    """Forgets ``failed`` if it is this thread's instance (after a trap)."""
    if getattr(local, "core", None) is failed:
        del local.core
    with _cores_lock:
        _cores.discard(failed)


def release_webhook(key: int) -> None:
    """Tells every instance that the Webhook ``key`` is gone (called by a finalizer)."""
    with _cores_lock:
        live = list(_cores)
    for instance in live:
        instance.released.append(key)

"""Benchmark (not a test): calls per second of ``verify`` on a 1 KiB body
through the Wasm component in wasmtime (``wasmtime.component``).

Run with ``cargo xtask bench`` (it builds first and uses the virtualenv under
target/component/venv), or by hand with that virtualenv's Python after
``cargo xtask component``.

Usage: component_bench.py [seconds]  (measuring time, default 3)
"""

import hashlib
import hmac
import importlib.metadata
import pathlib
import platform
import sys
import time

import wasmtime
from wasmtime.component import Component, Linker

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMPONENT = ROOT / "target" / "component" / "threetone-webhooks.wasm"
INTERFACE = "threetone:webhooks/webhooks@0.2.0"
SECRET = b"whsec_bench_secret"


def main(seconds: float) -> None:
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    instance = Linker(engine).instantiate(store, Component.from_file(engine, str(COMPONENT)))
    interface = instance.get_export_index(store, INTERFACE)

    def func(name):
        return instance.get_func(store, instance.get_export_index(store, name, interface))

    new, verify = func("[static]verifier.new"), func("[method]verifier.verify")
    verifier = new(store, SECRET)
    new.post_return(store)
    body = b"a" * 1024
    header = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()

    def calls_per_second(duration: float) -> float:
        """Calls ``verify`` for about ``duration`` seconds, in batches."""
        batch, calls = 200, 0
        start = now = time.perf_counter()
        while now - start < duration:
            for _ in range(batch):
                if verify(store, verifier, body, header) is not None:
                    raise SystemExit("verify failed")
                verify.post_return(store)
            calls += batch
            now = time.perf_counter()
        return calls / (now - start)

    calls_per_second(0.5)  # warm up
    rate = calls_per_second(seconds)
    print(
        f"python {platform.python_version()} (wasmtime {importlib.metadata.version('wasmtime')} component): "
        f"verify 1 KiB body: {rate:.0f} calls/s ({1e6 / rate:.2f} µs/call)"
    )


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0)

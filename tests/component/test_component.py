"""The Wasm component (target/component/threetone-webhooks.wasm) in wasmtime.

The shared vectors, rotation, options and ThreeTone's documented payloads
through ``wasmtime.component``, with signatures made by Python's own ``hmac``.
``cargo xtask component`` builds the component; the xtask test task runs this
file with ``python -m unittest`` from a virtualenv holding the wasmtime pinned
in ``component/requirements.txt``.
"""

import hashlib
import hmac
import json
import pathlib
import unittest
from datetime import datetime

from wasmtime import Engine, Store
from wasmtime.component import Component, Linker, Record, ResourceAny, Variant

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "target" / "component" / "threetone-webhooks.wasm"
VECTORS = ROOT / "tests" / "vectors"
INTERFACE = "threetone:webhooks/webhooks@0.2.0"
# The interface's functions, by their export names.
NEW = "[static]verifier.new"
WITH_SECRETS = "[static]verifier.with-secrets"
SIGN = "[method]verifier.sign"
VERIFY = "[method]verifier.verify"
CONSTRUCT_EVENT = "[method]verifier.construct-event"
PARSE_EVENT = "parse-event"


def catalog_status():
    """Each error code's HTTP status, from the generated catalog."""
    listed = json.loads((ROOT / "tests" / "vectors" / "catalog.json").read_text())["error_codes"]
    return {item["code"]: item["status"] for item in listed}


STATUS_OF = catalog_status()


def vectors(name):
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def sign(body: bytes, secret: bytes) -> str:
    """``sha256=<hex>`` computed by Python's hmac, independent of the component."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def record(**fields):
    """A WIT record value: wasmtime reads its fields by their WIT (kebab-case) names."""
    value = Record()
    for name, field in fields.items():
        setattr(value, name.replace("_", "-"), field)
    return value


def field(value, name):
    """The field ``name`` (snake_case here, kebab-case in WIT) of a record the component returned."""
    return getattr(value, name.replace("_", "-"))


def options(allow_unknown_events=True, freshness=None):
    """The WIT ``options``; by default the core's: every event type, no freshness check."""
    return record(allow_unknown_events=allow_unknown_events, freshness=freshness)


def freshness(max_age_seconds, now_unix_seconds):
    return record(max_age_seconds=max_age_seconds, now_unix_seconds=now_unix_seconds)


def unix_seconds(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp())


class ComponentError(Exception):
    """The WIT ``error`` record a call returned."""

    def __init__(self, error):
        super().__init__(f"{error.code}: {error.message}")
        self.error = error


class Webhooks:
    """The component's exports, called as a Python host does with wasmtime.component."""

    def __init__(self):
        engine = Engine()
        self.store = Store(engine)
        self.component = Component.from_file(engine, str(COMPONENT))
        # An empty linker: instantiation fails if the component imports anything.
        self.instance = Linker(engine).instantiate(self.store, self.component)
        self.interface = self.instance.get_export_index(self.store, INTERFACE)

    def call(self, name, *args):
        """Calls the export ``name`` of the interface; a WIT error raises ComponentError."""
        index = self.instance.get_export_index(self.store, name, self.interface)
        func = self.instance.get_func(self.store, index)
        result = func(self.store, *args)
        func.post_return(self.store)
        return unwrap(result)

    def verifier(self, *secrets: bytes) -> ResourceAny:
        if len(secrets) == 1:
            return self.call(NEW, secrets[0])
        return self.call(WITH_SECRETS, list(secrets))


def unwrap(result):
    """The ok value of a WIT ``result``, or raises its error.

    wasmtime gives a ``Variant`` when both cases lift to the same Python type
    (``result<event, error>``), else the bare value: in this interface, only
    the error is then a ``Record``.
    """
    if isinstance(result, Variant):
        if result.tag == "err":
            raise ComponentError(result.payload)
        return result.payload
    if isinstance(result, Record):
        raise ComponentError(result)
    return result


class ComponentTestCase(unittest.TestCase):
    def setUp(self):
        if not COMPONENT.exists():
            self.fail(f"{COMPONENT} is missing: run `cargo xtask component`")
        self.webhooks = Webhooks()
        self.call = self.webhooks.call

    def assert_fails(self, code, http_status, call, *args):
        """Asserts that the export ``call`` fails with ``code`` and ``http_status``; returns the error."""
        with self.assertRaises(ComponentError) as raised:
            self.call(call, *args)
        error = raised.exception.error
        self.assertEqual(error.code, code, error.message)
        self.assertEqual(field(error, "http_status"), http_status)
        self.assertEqual(STATUS_OF[code], http_status, f"{code}: the catalog's status")
        self.assertTrue(error.message)
        return error

    def assert_event(self, event, body: bytes):
        """Asserts that ``event`` is the accepted ``body`` with every field kept."""
        sent = json.loads(body)
        self.assertEqual(json.loads(event.json), sent)
        self.assertEqual(field(event, "event_type"), sent["event"])
        known = (ROOT / "schema" / f"{sent['event']}.schema.json").exists()
        self.assertEqual(event.known, known)
        self.assertEqual(event.timestamp, sent["timestamp"])
        self.assertEqual(field(event, "unix_seconds"), unix_seconds(sent["timestamp"]))
        call_id = (sent.get("data") or {}).get("call_id")
        self.assertEqual(field(event, "call_id"), call_id if isinstance(call_id, str) else None)


class TestComponent(ComponentTestCase):
    def test_imports_nothing_and_exports_the_interface(self):
        component_type = self.webhooks.component.type
        engine = self.webhooks.store.engine
        self.assertEqual(component_type.imports(engine), {})
        self.assertEqual(list(component_type.exports(engine)), [INTERFACE])
        interface = component_type.exports(engine)[INTERFACE].ty
        self.assertEqual(
            set(interface.exports(engine)),
            {
                "error", "invalid-field", "options", "freshness", "event", "verifier",
                NEW, WITH_SECRETS, SIGN, VERIFY, CONSTRUCT_EVENT, PARSE_EVENT,
            },
        )


class TestSignatures(ComponentTestCase):
    def test_signatures_json(self):
        cases = vectors("signatures.json")["vectors"]
        self.assertGreaterEqual(len(cases), 10)
        for case in cases:
            with self.subTest(case["name"]):
                verifier = self.webhooks.verifier(bytes.fromhex(case["secret_hex"]))
                body = bytes.fromhex(case["body_hex"])
                self.assertEqual(self.call(SIGN, verifier, body), case["signature"])
                self.assertIsNone(self.call(VERIFY, verifier, body, case["signature"]))
                altered = body + b"x"
                self.assert_fails("signature_mismatch", 401, VERIFY, verifier, altered, case["signature"])
                verifier.drop(self.webhooks.store)

    def test_signature_headers_json(self):
        document = vectors("signature-headers.json")
        verifier = self.webhooks.verifier(document["secret"].encode())
        body = document["body"].encode()
        for case in document["cases"]:
            with self.subTest(case["name"]):
                if case["code"] is None:
                    self.assertIsNone(self.call(VERIFY, verifier, body, case["header"]))
                else:
                    self.assert_fails(case["code"], 401, VERIFY, verifier, body, case["header"])


class TestPayloads(ComponentTestCase):
    def test_payload_cases_json(self):
        cases = vectors("payload-cases.json")["cases"]
        self.assertGreaterEqual(len(cases), 50)
        for case in cases:
            with self.subTest(case["name"]):
                body = case["body"].encode()
                if case["code"] is None:
                    event = self.call(PARSE_EVENT, body, options())
                    self.assertEqual(field(event, "event_type"), case["event"])
                    self.assert_event(event, body)
                else:
                    error = self.assert_fails(case["code"], 400, PARSE_EVENT, body, options())
                    invalid = field(error, "invalid_field")
                    if case["code"] == "invalid_payload":
                        self.assertEqual(invalid.path, case["path"])
                        self.assertTrue(invalid.expected and invalid.found)
                        for key in ("expected", "found"):
                            if key in case:
                                self.assertEqual(getattr(invalid, key), case[key], key)
                        self.assertEqual(
                            error.message,
                            f"invalid payload at {invalid.path}: expected {invalid.expected}, found {invalid.found}",
                        )
                    else:
                        self.assertIsNone(invalid)

    def test_the_known_types_are_the_catalogs(self):
        listed = json.loads((VECTORS / "catalog.json").read_text())["event_types"]
        self.assertTrue(listed)
        for item in listed:
            with self.subTest(item["name"]):
                body = json.dumps({"event": item["name"], "timestamp": "2024-01-15T10:30:00Z", "data": {}}).encode()
                if item["required"]:
                    error = self.assert_fails("invalid_payload", 400, PARSE_EVENT, body, options(allow_unknown_events=False))
                    invalid = field(error, "invalid_field")
                    self.assertEqual(invalid.path, f"$.data.{item['required'][0]}")
                    self.assertEqual(invalid.found, "nothing")
                else:
                    self.assertTrue(self.call(PARSE_EVENT, body, options(allow_unknown_events=False)).known)

    def test_unknown_event_types_are_accepted_or_rejected_when_asked(self):
        unknown = b'{"event":"call_recording_ready","timestamp":"2024-01-15T10:30:00Z","data":{}}'
        self.assertFalse(self.call(PARSE_EVENT, unknown, options()).known)
        self.assert_fails("unknown_event_type", 400, PARSE_EVENT, unknown, options(allow_unknown_events=False))
        known = (VECTORS / "payloads" / "call_started.json").read_bytes()
        self.assertTrue(self.call(PARSE_EVENT, known, options(allow_unknown_events=False)).known)

    def test_freshness_accepts_the_window_and_rejects_beyond_it(self):
        body = (VECTORS / "payloads" / "call_started.json").read_bytes()
        sent = unix_seconds(json.loads(body)["timestamp"])
        for now in (sent - 300, sent, sent + 300):
            event = self.call(PARSE_EVENT, body, options(freshness=freshness(300, now)))
            self.assertEqual(field(event, "event_type"), "call_started")
        old, future = options(freshness=freshness(300, sent + 301)), options(freshness=freshness(300, sent - 301))
        self.assert_fails("timestamp_too_old", 400, PARSE_EVENT, body, old)
        self.assert_fails("timestamp_in_future", 400, PARSE_EVENT, body, future)


class TestSecrets(ComponentTestCase):
    BODY = b'{"event":"heartbeat","timestamp":"2024-01-15T10:30:00Z"}'

    def test_rotation_accepts_every_configured_secret_and_no_other(self):
        secrets = [b"whsec_current", b"whsec_previous", b"whsec_oldest"]
        verifier = self.webhooks.verifier(*secrets)
        for secret in secrets:
            with self.subTest(secret):
                self.assertIsNone(self.call(VERIFY, verifier, self.BODY, sign(self.BODY, secret)))
        self.assertEqual(self.call(SIGN, verifier, self.BODY), sign(self.BODY, secrets[0]))
        other = sign(self.BODY, b"whsec_other")
        self.assert_fails("signature_mismatch", 401, VERIFY, verifier, self.BODY, other)

    def test_an_empty_secret_or_none_is_a_configuration_error(self):
        self.assert_fails("empty_secret", 503, NEW, b"")
        self.assert_fails("no_secret", 503, WITH_SECRETS, [])
        self.assert_fails("empty_secret", 503, WITH_SECRETS, [b"whsec_current", b""])


class TestDocumentedPayloads(ComponentTestCase):
    SECRET = b"whsec_component_test_5f2c"

    def seeds(self):
        seeds = sorted((VECTORS / "payloads").glob("*.json"))
        self.assertEqual(len(seeds), 4)
        return seeds

    def test_each_is_accepted_with_a_python_made_signature(self):
        verifier = self.webhooks.verifier(self.SECRET)
        for path in self.seeds():
            with self.subTest(path.stem):
                body = path.read_bytes()
                event = self.call(CONSTRUCT_EVENT, verifier, body, sign(body, self.SECRET), options())
                self.assertEqual(field(event, "event_type"), path.stem)
                self.assertTrue(event.known)
                self.assert_event(event, body)

    def test_each_is_refused_when_tampered_with_or_signed_with_another_secret(self):
        verifier = self.webhooks.verifier(self.SECRET)
        for path in self.seeds():
            with self.subTest(path.stem):
                body = path.read_bytes()
                tampered = body.replace(b"call_abc123", b"call_abc124")
                self.assertNotEqual(tampered, body)
                signed, other = sign(body, self.SECRET), sign(body, b"whsec_other")
                self.assert_fails("signature_mismatch", 401, CONSTRUCT_EVENT, verifier, tampered, signed, options())
                self.assert_fails("signature_mismatch", 401, CONSTRUCT_EVENT, verifier, body, other, options())
                self.assert_fails("missing_signature", 401, CONSTRUCT_EVENT, verifier, body, "", options())

    def test_an_authentic_body_that_is_not_an_event_fails_on_the_payload(self):
        verifier = self.webhooks.verifier(self.SECRET)
        body = b'{"event":"call_started","timestamp":"2024-01-15T10:30:00Z","data":{}}'
        signed = sign(body, self.SECRET)
        error = self.assert_fails("invalid_payload", 400, CONSTRUCT_EVENT, verifier, body, signed, options())
        # The first required field of call_started that is missing.
        self.assertEqual(field(error, "invalid_field").path, "$.data.call_id")


if __name__ == "__main__":
    unittest.main()

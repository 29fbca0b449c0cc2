#!/usr/bin/env python3
"""Regenerates tests/vectors/signatures.json with Python's own hmac module.

The vectors are made by an implementation independent of ours. Published
answers (GitHub's example, RFC 4231) are asserted here before anything is
written, so the file can only hold values Python agrees with.

Run: python3 tests/vectors/generate.py
"""

import hashlib
import hmac
import json
import pathlib

HERE = pathlib.Path(__file__).parent


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


# (name, secret, body, published HMAC-SHA256 hex or a published prefix of it)
PUBLISHED = [
    ("github-docs-example", b"It's a Secret to Everybody", b"Hello, World!",
     "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
    ("rfc4231-case-1", b"\x0b" * 20, b"Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    ("rfc4231-case-2", b"Jefe", b"what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    ("rfc4231-case-3", b"\xaa" * 20, b"\xdd" * 50,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    ("rfc4231-case-4", bytes(range(1, 26)), b"\xcd" * 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    # RFC 4231 publishes only the first 128 bits of case 5.
    ("rfc4231-case-5", b"\x0c" * 20, b"Test With Truncation",
     "a3b6167473100ee06e0c796c2955552b"),
    ("rfc4231-case-6", b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    ("rfc4231-case-7", b"\xaa" * 131,
     b"This is a test using a larger than block-size key and a larger than block-size data. "
     b"The key needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
]

SEED_SECRET = b"your_webhook_secret_key"  # the secret in ThreeTone's documentation

# (name, secret, body) whose answers only Python gives.
COMPUTED = [
    ("empty-body", b"whsec_test", b""),
    ("non-utf8-body", b"whsec_test", bytes([0xFF, 0xFE, 0x00, 0x80, 0xC3, 0x28])),
    ("long-secret-200-bytes", b"k" * 200, b'{"event":"call_started"}'),
    ("secret-exactly-one-block", b"b" * 64, b"block"),
    ("utf8-secret", "clé-secrète-☎".encode(), "café ☎".encode()),
    ("body-with-crlf-and-trailing-newline", b"whsec_test", b'{\r\n  "a": 1\r\n}\n'),
    ("body-16-KiB", b"whsec_test", bytes(i % 251 for i in range(16 * 1024))),
] + [
    (f"seed-{path.stem}", SEED_SECRET, path.read_bytes())
    for path in sorted((HERE / "payloads").glob("*.json"))
]


def main() -> None:
    vectors = []
    for name, secret, body, published in PUBLISHED:
        signature = sign(secret, body)
        assert signature[len("sha256="):].startswith(published), name
        vectors.append((name, secret, body, signature))
    vectors += [(name, secret, body, sign(secret, body)) for name, secret, body in COMPUTED]
    document = {
        "generator": "tests/vectors/generate.py (Python hmac + hashlib.sha256)",
        "vectors": [
            {"name": name, "secret_hex": secret.hex(), "body_hex": body.hex(), "signature": signature}
            for name, secret, body, signature in vectors
        ],
    }
    (HERE / "signatures.json").write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/<target>/ from the shared test vectors.

- signature_header: every header of signature-headers.json.
- verify: secret, header and body in the layout of fuzz_targets/verify.rs,
  for every vector of signatures.json (with its correct signature) and every
  header case of signature-headers.json (right and wrong headers).
- parse_event: every body of payload-cases.json and the seed payloads.

Bodies over MAX_BODY bytes are left out: libFuzzer sizes its inputs after the
largest seed, and a 16 KiB seed would slow every run. The output is
deterministic; each target's directory is rewritten from scratch.

Run: python3 fuzz/make_corpus.py
"""

import json
import pathlib
import shutil

FUZZ = pathlib.Path(__file__).parent
VECTORS = FUZZ.parent / "tests" / "vectors"
CORPUS = FUZZ / "corpus"

MAX_BODY = 4096


def load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def prefixed(field: bytes) -> bytes:
    """A field preceded by its one-byte length."""
    if len(field) > 255:
        raise ValueError(f"field of {len(field)} bytes does not fit a one-byte length")
    return bytes([len(field)]) + field


def verify_input(secret: bytes, header: str, body: bytes, position: int = 0) -> bytes:
    """An input for fuzz_targets/verify.rs (tamper mask 0x01 at `position`)."""
    tamper = position.to_bytes(2, "little") + b"\x01"
    return prefixed(secret) + prefixed(header.encode()) + tamper + body


def signature_header_seeds() -> dict[str, bytes]:
    cases = load("signature-headers.json")["cases"]
    return {case["name"]: case["header"].encode() for case in cases}


def verify_seeds() -> dict[str, bytes]:
    seeds = {}
    for vector in load("signatures.json")["vectors"]:
        secret = bytes.fromhex(vector["secret_hex"])
        body = bytes.fromhex(vector["body_hex"])
        if len(body) <= MAX_BODY:
            seeds[vector["name"]] = verify_input(secret, vector["signature"], body, len(body) // 2)
    headers = load("signature-headers.json")
    secret, body = headers["secret"].encode(), headers["body"].encode()
    for case in headers["cases"]:
        seeds[f"header-{case['name']}"] = verify_input(secret, case["header"], body)
    return seeds


def parse_event_seeds() -> dict[str, bytes]:
    seeds = {
        case["name"]: case["body"].encode()
        for case in load("payload-cases.json")["cases"]
        if len(case["body"].encode()) <= MAX_BODY
    }
    for path in sorted((VECTORS / "payloads").glob("*.json")):
        seeds[f"payload-{path.stem}"] = path.read_bytes()
    return seeds


def write(target: str, seeds: dict[str, bytes]) -> None:
    directory = CORPUS / target
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for name, data in sorted(seeds.items()):
        (directory / name).write_bytes(data)
    size = sum(len(data) for data in seeds.values())
    print(f"{directory.relative_to(FUZZ.parent)}: {len(seeds)} files, {size} bytes")


def main() -> None:
    write("signature_header", signature_header_seeds())
    write("verify", verify_seeds())
    write("parse_event", parse_event_seeds())


if __name__ == "__main__":
    main()

"""A request's fingerprint: what makes two requests under one key 'the same'."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """Key order and whitespace do not matter; the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# Part of the hashed material and of the stored value: a later change of what is fingerprinted gets
# a new version, and records of the previous one can still be recognised for as long as they live.
VERSION = "v2"


def fingerprint(operation: str, canonical_payload: str) -> str:
    """SHA-256 over the version, the operation's name and its canonical input, prefixed with the version."""
    digest = hashlib.sha256(f"{VERSION}\n{operation}\n{canonical_payload}".encode()).hexdigest()
    return f"{VERSION}:{digest}"


def unversioned_fingerprint(operation: str, canonical_payload: str) -> str:
    """The fingerprint before versioning (v1): still held by keys claimed before it, until they expire."""
    return hashlib.sha256(f"{operation}\n{canonical_payload}".encode()).hexdigest()

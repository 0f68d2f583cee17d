from __future__ import annotations

from typing import Any

import pytest

from payments_service.handlers.idempotency_key import MissingKey
from payments_service.handlers.idempotency_key import parse_key as parse_event_key
from payments_service.idempotency.keys import InvalidKey, record_id


def parse_key(headers: dict[str, Any] | None, multi_value_headers: dict[str, Any] | None) -> str:
    return parse_event_key({"headers": headers, "multiValueHeaders": multi_value_headers})


def test_bare_token_is_the_key() -> None:
    assert parse_key({"Idempotency-Key": "order-42"}, None) == "order-42"


def test_structured_field_string_is_unquoted() -> None:
    assert parse_key({"Idempotency-Key": '"order-42"'}, None) == "order-42"


def test_header_name_is_case_insensitive_in_both_tables() -> None:
    assert parse_key({"IDEMPOTENCY-KEY": "a"}, None) == "a"
    assert parse_key(None, {"idempotency-key": ["b"]}) == "b"


def test_missing_header_is_missing_key() -> None:
    with pytest.raises(MissingKey):
        parse_key({"Content-Type": "application/json"}, {"Content-Type": ["application/json"]})


def test_two_different_values_are_rejected() -> None:
    with pytest.raises(InvalidKey, match="more than once"):
        parse_key({"Idempotency-Key": "a"}, {"Idempotency-Key": ["a", "b"]})


def test_repeated_equal_values_quoted_or_not_are_one_key() -> None:
    assert parse_key({"Idempotency-Key": "a"}, {"idempotency-key": ['"a"', "a"]}) == "a"


@pytest.mark.parametrize("length", [1, 255])
def test_lengths_at_the_limits_are_accepted(length: int) -> None:
    assert len(parse_key({"Idempotency-Key": "k" * length}, None)) == length


@pytest.mark.parametrize(
    "raw",
    [
        "",
        '""',
        "k" * 256,
        "has space",
        "tab\there",
        "ctl\x01",
        "del\x7f",
        "caf\u00e9",
        'qu"ote',
        "back\\slash",
        '"open',
    ],
)
def test_malformed_keys_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidKey):
        parse_key({"Idempotency-Key": raw}, None)


def test_record_id_is_scoped_by_client() -> None:
    assert record_id("merchant-a", "k") != record_id("merchant-b", "k")
    assert record_id("merchant-a", "k") == record_id("merchant-a", "k")


def test_record_id_cannot_be_forged_by_shifting_the_separator() -> None:
    # Without a length prefix, ("a|", "b") and ("a", "|b") could hash the same material.
    assert record_id("a|", "b") != record_id("a", "|b")

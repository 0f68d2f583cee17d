"""Hostile input through the real Lambda handler: every bad request gets a clear 4xx problem and leaves no trace.

"No trace" is checked three ways: the handler made no DynamoDB write while answering, the idempotency table
holds no record for the merchant+key, and the payments table holds no payment for the (unique) merchant.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from payments_service.idempotency.keys import record_id
from payments_service.models.settings import Settings
from tests.support import get_event, payment_event, unique, visa

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:idempotent-payments:problem:"
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
MIB = 1024 * 1024
VALID = json.dumps(visa(1000))


def _merchant() -> str:
    return f"arn:aws:iam::111111111111:user/{unique('hostile')}"


def _header(response: dict[str, Any], name: str) -> str | None:
    for table in ("multiValueHeaders", "headers"):
        for key, value in (response.get(table) or {}).items():
            if key.lower() == name.lower():
                return value[0] if isinstance(value, list) else value
    return None


@dataclass
class Outcome:
    response: dict[str, Any]
    operations: list[str]  # DynamoDB operations the handler made while answering


class Tables:
    """Read-only view of the test session's tables, to look for traces."""

    def __init__(self, client: Any, settings: Settings) -> None:
        self._client = client
        self._settings = settings

    def idempotency_item(self, merchant: str, key: str) -> dict[str, Any] | None:
        found = self._client.get_item(
            TableName=self._settings.idempotency_table,
            Key={"id": {"S": record_id(merchant, key)}},
            ConsistentRead=True,
        )
        item: dict[str, Any] | None = found.get("Item")
        return item

    def payments_of(self, merchant: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self._client.get_paginator("scan").paginate(
            TableName=self._settings.payments_table,
            FilterExpression="merchant_id = :m",
            ExpressionAttributeValues={":m": {"S": merchant}},
            ConsistentRead=True,
        ):
            items.extend(page.get("Items", []))
        return items


@pytest.fixture
def tables(dynamodb: Any, settings: Settings) -> Tables:
    return Tables(dynamodb.client, settings)


@pytest.fixture
def attempt(invoke: Callable[..., dict[str, Any]], dynamodb: Any) -> Callable[[dict[str, Any]], Outcome]:
    """Invoke the handler and record which DynamoDB operations it made (tests run one at a time)."""

    def call(event: dict[str, Any]) -> Outcome:
        before = len(dynamodb.app.calls)
        response = invoke(event)
        return Outcome(response, list(dynamodb.app.calls[before:]))

    return call


def assert_problem(response: dict[str, Any], status: int, slug: str | None = None) -> dict[str, Any]:
    assert response["statusCode"] == status, response
    content_type = _header(response, "Content-Type") or ""
    assert content_type.split(";")[0].strip() == PROBLEM_JSON, response
    problem = json.loads(response["body"])
    assert isinstance(problem, dict), problem
    assert str(problem.get("type", "")).startswith(PROBLEM_BASE), problem
    if slug is not None:
        assert problem["type"] == PROBLEM_BASE + slug, problem
    assert problem["status"] == status and problem["title"] and problem["detail"], problem
    return problem


def assert_no_trace(outcome: Outcome, tables: Tables, merchant: str, keys: Iterable[str] = ()) -> None:
    writes = [op for op in outcome.operations if op in WRITES]
    assert writes == [], f"a rejected request wrote to DynamoDB: {writes}"
    for key in keys:
        assert tables.idempotency_item(merchant, key) is None, f"idempotency record left for key {key!r}"
    assert tables.payments_of(merchant) == [], "a rejected request left a payment"


def assert_rejected(
    outcome: Outcome, tables: Tables, merchant: str, status: int, slug: str | None, keys: Iterable[str] = ()
) -> dict[str, Any]:
    problem = assert_problem(outcome.response, status, slug)
    assert_no_trace(outcome, tables, merchant, keys)
    return problem


def assert_created_once(outcome: Outcome, tables: Tables, merchant: str, key: str) -> dict[str, Any]:
    assert outcome.response["statusCode"] == 201, outcome.response
    payment: dict[str, Any] = json.loads(outcome.response["body"])
    stored = tables.payments_of(merchant)
    assert [item["payment_id"]["S"] for item in stored] == [payment["id"]]
    record = tables.idempotency_item(merchant, key)
    assert record is not None and record["status"]["S"] == "COMPLETED"
    return payment


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _encoded_event(key: str, merchant: str, encoded_body: str) -> dict[str, Any]:
    event = payment_event(key, merchant=merchant, raw_body=encoded_body)
    event["isBase64Encoded"] = True
    return event


# --- size and nesting ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [16 * 1024 + 1, MIB, 6 * MIB, 11 * MIB], ids=["16KiB+1", "1MiB", "6MiB", "11MiB"])
def test_bodies_over_the_limit_get_413_and_are_never_parsed(attempt: Any, tables: Tables, size: int) -> None:
    # Given a syntactically valid payment whose description pads the body to `size` bytes
    key, merchant = unique("k"), _merchant()
    padding = size - len(json.dumps(visa(1000, description="")))
    body = json.dumps(visa(1000, description="x" * padding))
    assert len(body.encode()) == size
    # When it is sent
    outcome = attempt(payment_event(key, merchant=merchant, raw_body=body))
    # Then it is refused as too large and nothing is stored
    assert_rejected(outcome, tables, merchant, 413, "payload-too-large", [key])


def test_a_1_mib_base64_body_is_measured_decoded_and_gets_413(attempt: Any, tables: Tables) -> None:
    key, merchant = unique("k"), _merchant()
    body = json.dumps(visa(1000, description="x" * MIB)).encode()
    outcome = attempt(_encoded_event(key, merchant, _base64(body)))
    assert_rejected(outcome, tables, merchant, 413, "payload-too-large", [key])


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        ("[" * 100_000, 413, "payload-too-large"),  # 100 KB: the size guard answers before any parser runs
        ("[" * 16_000, 400, "malformed-body"),  # under the size limit, deeper than the JSON parser recurses
        ('{"a":' * 2_500 + "1" + "}" * 2_500, 400, "malformed-body"),
        (
            '{"amount":1,"currency":"USD","source":"tok_visa","metadata":' + '{"a":' * 500 + '"x"' + "}" * 501,
            400,
            "invalid-request",  # parses, then the model refuses a nested metadata value
        ),
    ],
    ids=["100k-brackets", "16k-brackets", "2500-objects", "500-deep-metadata"],
)
def test_deeply_nested_json_gets_a_4xx_problem(attempt: Any, tables: Tables, body: str, status: int, slug: str) -> None:
    key, merchant = unique("k"), _merchant()
    outcome = attempt(payment_event(key, merchant=merchant, raw_body=body))
    assert_rejected(outcome, tables, merchant, status, slug, [key])


# --- encodings ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_bytes",
    [b"\xff", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82"],
    ids=["0xff", "bad-continuation", "overlong", "utf8-surrogate", "truncated"],
)
def test_invalid_utf8_in_a_base64_body_gets_400(attempt: Any, tables: Tables, bad_bytes: bytes) -> None:
    key, merchant = unique("k"), _merchant()
    raw = b'{"amount":1000,"currency":"USD","source":"tok_visa","description":"' + bad_bytes + b'"}'
    outcome = attempt(_encoded_event(key, merchant, _base64(raw)))
    assert_rejected(outcome, tables, merchant, 400, "malformed-body", [key])


@pytest.mark.parametrize("encoded", ["not base64!", "YWJj=", "YW Jj", "@@@@", "eyJh\nbW91bnQiOjF9"], ids=str.strip)
def test_a_body_marked_base64_that_is_not_base64_gets_400(attempt: Any, tables: Tables, encoded: str) -> None:
    key, merchant = unique("k"), _merchant()
    outcome = attempt(_encoded_event(key, merchant, encoded))
    assert_rejected(outcome, tables, merchant, 400, "malformed-body", [key])


def test_valid_json_sent_base64_is_charged_and_its_plain_retry_is_a_replay(attempt: Any, tables: Tables) -> None:
    # Given a valid payment body delivered base64-encoded (API Gateway binary media types)
    key, merchant = unique("k"), _merchant()
    first = attempt(_encoded_event(key, merchant, _base64(VALID.encode())))
    # Then it is charged once
    payment = assert_created_once(first, tables, merchant, key)
    # And the same JSON sent as plain text with the same key is the same request: a replay, not a 422
    again = attempt(payment_event(key, merchant=merchant, raw_body=VALID))
    assert again.response["statusCode"] == 201 and json.loads(again.response["body"]) == payment
    assert _header(again.response, "Idempotent-Replayed") == "true"
    assert len(tables.payments_of(merchant)) == 1


@pytest.mark.parametrize(
    "body",
    [
        '{"amount":1000,"currency":"USD","source":"tok_visa","description":"\\ud800"}',
        '{"amount":1000,"currency":"USD","source":"\\udfff"}',
        '{"amount":1000,"currency":"USD","source":"tok_visa","metadata":{"\\ud800":"x"}}',
    ],
    ids=["description", "source", "metadata-key"],
)
def test_lone_surrogate_escapes_get_400_not_a_crash_on_storage(attempt: Any, tables: Tables, body: str) -> None:
    # "\ud800" is valid JSON text but no Unicode string: it must never reach hashing or DynamoDB
    key, merchant = unique("k"), _merchant()
    outcome = attempt(payment_event(key, merchant=merchant, raw_body=body))
    assert_rejected(outcome, tables, merchant, 400, "invalid-request", [key])


def test_a_byte_order_mark_before_the_json_gets_400(attempt: Any, tables: Tables) -> None:
    key, merchant = unique("k"), _merchant()
    outcome = attempt(payment_event(key, merchant=merchant, raw_body="\ufeff" + VALID))
    assert_rejected(outcome, tables, merchant, 400, "malformed-body", [key])


# --- amounts, currencies, fields ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "slug"),
    [
        ('"1000"', "invalid-request"),
        ("100.0", "invalid-request"),
        ("100.5", "invalid-request"),
        ("1e2", "invalid-request"),
        ("0", "invalid-request"),
        ("-1", "invalid-request"),
        ("-0", "invalid-request"),
        ("100000000", "invalid-request"),
        (str(10**30), "invalid-request"),
        ("true", "invalid-request"),
        ("null", "invalid-request"),
        ("[1000]", "invalid-request"),
        ("NaN", "malformed-body"),
        ("Infinity", "malformed-body"),
        ("-Infinity", "malformed-body"),
        ("1" * 5_000, "malformed-body"),  # beyond Python's int-parsing digit limit
    ],
    ids=lambda value: value if len(value) < 20 else f"{len(value)}-digits",
)
def test_amounts_that_are_not_a_positive_integer_up_to_99_999_999_get_400(
    attempt: Any, tables: Tables, amount: str, slug: str
) -> None:
    key, merchant = unique("k"), _merchant()
    body = f'{{"amount":{amount},"currency":"USD","source":"tok_visa"}}'
    outcome = attempt(payment_event(key, merchant=merchant, raw_body=body))
    assert_rejected(outcome, tables, merchant, 400, slug, [key])


def test_the_largest_amount_99_999_999_is_accepted(attempt: Any, tables: Tables) -> None:
    key, merchant = unique("k"), _merchant()
    outcome = attempt(payment_event(key, visa(99_999_999), merchant=merchant))
    assert assert_created_once(outcome, tables, merchant, key)["amount"] == 99_999_999


@pytest.mark.parametrize("currency", ["usd", "Usd", "US", "USDD", " USD", "\uff35\uff33\uff24", "U$D", 840, None])
def test_currencies_that_are_not_three_upper_case_letters_get_400(attempt: Any, tables: Tables, currency: Any) -> None:
    key, merchant = unique("k"), _merchant()
    outcome = attempt(
        payment_event(key, {"amount": 1000, "currency": currency, "source": "tok_visa"}, merchant=merchant)
    )
    assert_rejected(outcome, tables, merchant, 400, "invalid-request", [key])


@pytest.mark.parametrize(
    "body",
    [
        visa(1000, captured=True),
        {"Amount": 1000, "currency": "USD", "source": "tok_visa"},
        visa(1000, merchant_id="arn:aws:iam::222222222222:user/someone-else"),
        visa(1000, id="pay_000000000000000000000000"),
    ],
    ids=["captured", "Amount", "merchant_id", "id"],
)
def test_unknown_fields_get_400(attempt: Any, tables: Tables, body: dict[str, Any]) -> None:
    key, merchant = unique("k"), _merchant()
    outcome = attempt(payment_event(key, body, merchant=merchant))
    assert_rejected(outcome, tables, merchant, 400, "invalid-request", [key])


def test_nan_inside_metadata_gets_400(attempt: Any, tables: Tables) -> None:
    key, merchant = unique("k"), _merchant()
    body = '{"amount":1000,"currency":"USD","source":"tok_visa","metadata":{"a":NaN}}'
    outcome = attempt(payment_event(key, merchant=merchant, raw_body=body))
    assert_rejected(outcome, tables, merchant, 400, "malformed-body", [key])


@pytest.mark.parametrize(
    "metadata",
    [
        {f"k{i}": "v" for i in range(21)},
        {"k" * 41: "v"},
        {"": "v"},
        {"k": "v" * 501},
        {"k": 1},
        {"k": None},
        {"k": ["v"]},
        ["k", "v"],
    ],
    ids=["21-pairs", "41-char-key", "empty-key", "501-char-value", "int-value", "null-value", "list-value", "list"],
)
def test_metadata_beyond_its_limits_gets_400(attempt: Any, tables: Tables, metadata: Any) -> None:
    key, merchant = unique("k"), _merchant()
    outcome = attempt(payment_event(key, visa(1000, metadata=metadata), merchant=merchant))
    assert_rejected(outcome, tables, merchant, 400, "invalid-request", [key])


def test_metadata_with_exactly_20_pairs_is_accepted(attempt: Any, tables: Tables) -> None:
    key, merchant = unique("k"), _merchant()
    metadata = {f"k{i}": "v" * 500 for i in range(20)}
    outcome = attempt(payment_event(key, visa(1000, metadata=metadata), merchant=merchant))
    assert assert_created_once(outcome, tables, merchant, key)["metadata"] == metadata


@pytest.mark.parametrize(
    "body",
    [None, "", "null", "[]", f"[{VALID}]", f"[{json.dumps(visa(5))}, {VALID}]", '"a string"', "1", "true", "{}"],
    ids=["absent", "empty", "null", "empty-array", "array", "array-of-two", "string", "number", "true", "empty-object"],
)
def test_bodies_that_are_not_a_payment_object_get_400(attempt: Any, tables: Tables, body: str | None) -> None:
    key, merchant = unique("k"), _merchant()
    event = payment_event(key, merchant=merchant)
    event["body"] = body
    outcome = attempt(event)
    assert_rejected(outcome, tables, merchant, 400, "invalid-request", [key])


# --- Idempotency-Key ----------------------------------------------------------------------------------------


def test_a_256_character_key_gets_400(attempt: Any, tables: Tables) -> None:
    key, merchant = unique("k").ljust(256, "x"), _merchant()
    outcome = attempt(payment_event(key, visa(), merchant=merchant))
    assert_rejected(outcome, tables, merchant, 400, "invalid-idempotency-key", [key, key[:255]])


@pytest.mark.parametrize("quoted", [False, True], ids=["bare", "quoted"])
def test_a_255_character_key_is_accepted(attempt: Any, tables: Tables, quoted: bool) -> None:
    key, merchant = unique("k").ljust(255, "x"), _merchant()
    outcome = attempt(payment_event(f'"{key}"' if quoted else key, visa(), merchant=merchant))
    assert_created_once(outcome, tables, merchant, key)


@pytest.mark.parametrize(
    "bad",
    ["a b", "a\tb", "a\x00b", "a\x7fb", "a\nb", "a\rb", "\x1b[31mred", 'a"b', '"ab', "a\\b", "clé", "ключ", "", "   "],
    ids=repr,
)
def test_keys_with_spaces_controls_quotes_or_non_ascii_get_400(attempt: Any, tables: Tables, bad: str) -> None:
    suffix, merchant = unique("k"), _merchant()
    key = bad + suffix if bad.strip() else bad  # unique, while keeping the offending character
    outcome = attempt(payment_event(key, visa(), merchant=merchant))
    assert_rejected(outcome, tables, merchant, 400, "invalid-idempotency-key", [key, key.strip()])


@pytest.mark.parametrize("ending", ["\n", "\r\n"], ids=repr)
def test_a_key_ending_in_a_newline_gets_400(attempt: Any, tables: Tables, ending: str) -> None:
    # A newline is a control character wherever it is; a regex `$` must not let a final one through.
    key, merchant = unique("k") + ending, _merchant()
    outcome = attempt(payment_event(key, visa(), merchant=merchant))
    assert_rejected(outcome, tables, merchant, 400, "invalid-idempotency-key", [key, key.strip()])


def test_a_missing_key_gets_400(attempt: Any, tables: Tables) -> None:
    merchant = _merchant()
    outcome = attempt(payment_event(None, visa(), merchant=merchant))
    assert_rejected(outcome, tables, merchant, 400, "missing-idempotency-key")


def _with_keys(values: list[str], merchant: str, names: list[str] | None = None) -> dict[str, Any]:
    event = payment_event(None, visa(), merchant=merchant)
    for name, value in zip(names or ["Idempotency-Key"] * len(values), values, strict=True):
        event["multiValueHeaders"].setdefault(name, []).append(value)
        event["headers"][name] = value  # like API Gateway: the last value wins in `headers`
    return event


def test_two_key_headers_with_different_values_get_400(attempt: Any, tables: Tables) -> None:
    first, second, merchant = unique("k"), unique("k"), _merchant()
    outcome = attempt(_with_keys([first, second], merchant))
    assert_rejected(outcome, tables, merchant, 400, "invalid-idempotency-key", [first, second])


def test_two_key_headers_differing_only_in_name_case_with_different_values_get_400(
    attempt: Any, tables: Tables
) -> None:
    first, second, merchant = unique("k"), unique("k"), _merchant()
    outcome = attempt(_with_keys([first, second], merchant, ["Idempotency-Key", "idempotency-key"]))
    assert_rejected(outcome, tables, merchant, 400, "invalid-idempotency-key", [first, second])


@pytest.mark.parametrize("second_form", ["same", "quoted"])
def test_two_key_headers_with_the_same_key_are_one_key(attempt: Any, tables: Tables, second_form: str) -> None:
    key, merchant = unique("k"), _merchant()
    outcome = attempt(_with_keys([key, key if second_form == "same" else f'"{key}"'], merchant))
    assert_created_once(outcome, tables, merchant, key)


# --- media types --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", VALID),
        ("application/x-www-form-urlencoded", "amount=1000&currency=USD&source=tok_visa"),
        (
            "multipart/form-data; boundary=xyz",
            '--xyz\r\nContent-Disposition: form-data; name="amount"\r\n\r\n1000\r\n--xyz--\r\n',
        ),
        ("multipart/form-data", '--xyz\r\nContent-Disposition: form-data; name="amount"\r\n\r\n1000\r\n--xyz--\r\n'),
        ("application/xml", "<payment><amount>1000</amount></payment>"),
        ("application/json-patch+json", VALID),
        ("text/json", VALID),
    ],
    ids=["text", "form", "multipart", "multipart-no-boundary", "xml", "json-patch", "text-json"],
)
def test_bodies_that_are_not_application_json_get_415(
    attempt: Any, tables: Tables, content_type: str, body: str
) -> None:
    key, merchant = unique("k"), _merchant()
    outcome = attempt(payment_event(key, merchant=merchant, raw_body=body, headers={"Content-Type": content_type}))
    assert_rejected(outcome, tables, merchant, 415, "unsupported-media-type", [key])


def test_two_conflicting_content_type_headers_get_a_4xx_problem(attempt: Any, tables: Tables) -> None:
    # The local server passes header lines through with their own casing, so both can reach the handler.
    key, merchant = unique("k"), _merchant()
    event = payment_event(key, visa(), merchant=merchant)
    event["headers"]["content-type"] = "multipart/form-data; boundary=xyz"
    event["multiValueHeaders"]["content-type"] = ["multipart/form-data; boundary=xyz"]
    outcome = attempt(event)
    status = outcome.response["statusCode"]
    assert 400 <= status < 500, outcome.response
    assert_rejected(outcome, tables, merchant, status, None, [key])


# --- GET and principals -------------------------------------------------------------------------------------


def test_another_merchants_payment_is_404_for_everyone_else(attempt: Any, tables: Tables) -> None:
    # Given merchant A's payment
    key, owner, stranger = unique("k"), _merchant(), _merchant()
    payment = assert_created_once(attempt(payment_event(key, visa(), merchant=owner)), tables, owner, key)
    # When merchant B asks for it by its exact id
    outcome = attempt(get_event(payment["id"], merchant=stranger))
    # Then B learns nothing, not even that it exists, and nothing is written
    assert_rejected(outcome, tables, stranger, 404, "not-found")
    assert outcome.operations == ["GetItem"]
    # And A still reads it (the 404 is about B, not a broken lookup)
    assert attempt(get_event(payment["id"], merchant=owner)).response["statusCode"] == 200


@pytest.mark.parametrize(
    "payment_id",
    [
        "pay_000000000000000000000000",  # well-formed, unknown
        "pay_short",
        "pay_" + "G" * 24,
        "pay_" + "A" * 24,  # upper-case hex is not our format
        "pay_" + "0" * 25,
        "../../etc/passwd",
        "pay_%00",
        "pay_\x00",
        "x" * 65,  # longer than any id
        "x" * 2_000,
    ],
    ids=["unknown", "short", "non-hex", "upper-hex", "too-long-hex", "traversal", "pct-nul", "nul", "65", "2000"],
)
def test_a_malformed_or_unknown_payment_id_is_404(attempt: Any, tables: Tables, payment_id: str) -> None:
    merchant = _merchant()
    outcome = attempt(get_event(payment_id, merchant=merchant))
    assert_rejected(outcome, tables, merchant, 404, "not-found")


@pytest.mark.parametrize("arn", [None, ""], ids=["absent", "empty"])
def test_a_post_without_a_principal_gets_401(attempt: Any, tables: Tables, arn: str | None) -> None:
    key = unique("k")
    event = payment_event(key, visa(), merchant=arn)
    outcome = attempt(event)
    assert_problem(outcome.response, 401, "unauthenticated")
    assert [op for op in outcome.operations if op in WRITES] == []
    assert tables.payments_of("") == []


@pytest.mark.parametrize("arn", [None, ""], ids=["absent", "empty"])
def test_a_get_without_a_principal_gets_401(attempt: Any, arn: str | None) -> None:
    outcome = attempt(get_event("pay_000000000000000000000000", merchant=arn))  # type: ignore[arg-type]
    assert_problem(outcome.response, 401, "unauthenticated")
    assert outcome.operations == []


# --- the same over real sockets: local.server must map the wire faithfully ----------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    def problem(self, status: int, slug: str) -> dict[str, Any]:
        assert self.status == status, (self.status, self.body[:500])
        assert self.headers.get("content-type") == [PROBLEM_JSON], self.headers
        problem: dict[str, Any] = json.loads(self.body)
        assert problem["type"] == PROBLEM_BASE + slug and problem["status"] == status, problem
        return problem


class ServerTables:
    """The server's own embedded DynamoDB, read from outside the process."""

    def __init__(self, endpoint: str) -> None:
        import boto3

        self._client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
        names = self._client.list_tables()["TableNames"]
        self._idempotency = next(n for n in names if n.endswith("IdempotencyTable"))
        self._payments = next(n for n in names if n.endswith("PaymentsTable"))

    def assert_no_trace(self, merchant: str, keys: Iterable[str] = ()) -> None:
        for key in keys:
            found = self._client.get_item(
                TableName=self._idempotency, Key={"id": {"S": record_id(merchant, key)}}, ConsistentRead=True
            )
            assert "Item" not in found, f"idempotency record left for key {key!r}"
        scanned = self._client.scan(
            TableName=self._payments,
            FilterExpression="merchant_id = :m",
            ExpressionAttributeValues={":m": {"S": merchant}},
            ConsistentRead=True,
        )
        assert scanned["Items"] == [], "a rejected request left a payment"

    def payments_of(self, merchant: str) -> int:
        scanned = self._client.scan(
            TableName=self._payments,
            FilterExpression="merchant_id = :m",
            ExpressionAttributeValues={":m": {"S": merchant}},
            ConsistentRead=True,
        )
        return int(scanned["Count"])


@pytest.fixture(scope="module")
def server_tables(local_server: Any) -> ServerTables:
    return ServerTables(local_server.dynamodb_endpoint)


def _send(
    server: Any,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes | None = None,
    content_length: int | str | None = None,
    timeout: float = 30.0,
) -> Reply:
    """One request with header lines exactly as given (repeats included) and raw body bytes."""
    connection = server.connection(timeout=timeout)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        length = content_length if content_length is not None else len(body or b"")
        connection.putheader("Content-Length", str(length))
        connection.endheaders(body)
        response = connection.getresponse()
        received: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            received.setdefault(name.lower(), []).append(value)
        return Reply(response.status, received, response.read())
    finally:
        connection.close()


def _wire_headers(merchant: str, *keys: str, content_type: str = "application/json") -> list[tuple[str, str]]:
    return [("Content-Type", content_type), ("X-Merchant-Id", merchant), *(("Idempotency-Key", k) for k in keys)]


def test_over_http_a_1_mib_body_reaches_the_handler_and_gets_its_413(
    local_server: Any, server_tables: ServerTables
) -> None:
    key, merchant = unique("k"), _merchant()
    body = json.dumps(visa(1000, description="x" * MIB)).encode()
    reply = _send(local_server, "POST", "/payments", _wire_headers(merchant, key), body)
    # The handler's limit (16 KiB), not the gateway's (10 MB): the body made it through the server intact
    assert "16384" in reply.problem(413, "payload-too-large")["detail"]
    server_tables.assert_no_trace(merchant, [key])


def test_over_http_an_11_mb_body_is_refused_413_by_the_server_before_it_is_read(
    local_server: Any, server_tables: ServerTables
) -> None:
    # Only the headers are sent: the server must answer from Content-Length alone, as API Gateway does.
    key, merchant = unique("k"), _merchant()
    reply = _send(local_server, "POST", "/payments", _wire_headers(merchant, key), content_length=11 * 1000 * 1000)
    assert "10 MB" in reply.problem(413, "payload-too-large")["detail"]
    server_tables.assert_no_trace(merchant, [key])


def test_over_http_two_key_header_lines_with_different_values_get_400(
    local_server: Any, server_tables: ServerTables
) -> None:
    first, second, merchant = unique("k"), unique("k"), _merchant()
    reply = _send(local_server, "POST", "/payments", _wire_headers(merchant, first, second), VALID.encode())
    reply.problem(400, "invalid-idempotency-key")
    server_tables.assert_no_trace(merchant, [first, second])


def test_over_http_two_key_header_lines_with_the_same_value_are_one_key(
    local_server: Any, server_tables: ServerTables
) -> None:
    key, merchant = unique("k"), _merchant()
    reply = _send(local_server, "POST", "/payments", _wire_headers(merchant, key, key), VALID.encode())
    assert reply.status == 201, reply.body
    assert server_tables.payments_of(merchant) == 1


def test_over_http_invalid_utf8_bytes_get_400(local_server: Any, server_tables: ServerTables) -> None:
    # The server base64-encodes bytes that are not UTF-8 (isBase64Encoded), as API Gateway does for binary.
    key, merchant = unique("k"), _merchant()
    raw = b'{"amount":1000,"currency":"USD","source":"tok_visa","description":"\xff\xfe"}'
    reply = _send(local_server, "POST", "/payments", _wire_headers(merchant, key), raw)
    reply.problem(400, "malformed-body")
    server_tables.assert_no_trace(merchant, [key])


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND"])
def test_over_http_an_unsupported_method_gets_a_problem_not_an_html_501(local_server: Any, method: str) -> None:
    # Found by schemathesis (it probes unexpected methods): http.server answers methods without a do_X
    # handler itself, with a 501 HTML page.
    reply = _send(local_server, method, "/payments", [("X-Merchant-Id", _merchant())])
    assert 400 <= reply.status < 500, (reply.status, reply.body[:200])
    assert reply.headers.get("content-type") == [PROBLEM_JSON], reply.headers


def test_over_http_a_chunked_body_is_read_or_refused_never_misread_as_empty(
    local_server: Any, server_tables: ServerTables
) -> None:
    # Transfer-Encoding: chunked carries no Content-Length; a server that reads Content-Length only sees
    # an empty body (and then parses the chunks as a second request on the same connection).
    key, merchant = unique("k"), _merchant()
    connection = local_server.connection()
    try:
        connection.request(
            "POST",
            "/payments",
            body=iter([VALID.encode()]),  # an iterable body makes http.client send it chunked
            headers={"Content-Type": "application/json", "X-Merchant-Id": merchant, "Idempotency-Key": key},
            encode_chunked=True,
        )
        response = connection.getresponse()
        status, body = response.status, response.read()
    finally:
        connection.close()
    assert status in (201, 411), (status, body[:300])  # read it like API Gateway, or say "length required"
    if status == 201:
        assert server_tables.payments_of(merchant) == 1
    else:
        assert json.loads(body)["type"].startswith(PROBLEM_BASE)
        server_tables.assert_no_trace(merchant, [key])


@pytest.mark.parametrize("length", ["abc", "-1", "1e3"])
def test_over_http_a_content_length_that_is_not_a_size_gets_400(local_server: Any, length: str) -> None:
    # "abc" and "1e3" make the server's int() raise (no answer at all, the connection just drops);
    # "-1" makes it read until the client gives up. API Gateway answers 400 to both.
    key, merchant = unique("k"), _merchant()
    try:
        reply = _send(
            local_server, "POST", "/payments", _wire_headers(merchant, key), VALID.encode(), length, timeout=2.0
        )
    except (OSError, http.client.HTTPException) as error:
        pytest.fail(f"Content-Length {length!r}: no HTTP answer ({type(error).__name__}: {error})")
    assert reply.status == 400, (reply.status, reply.body[:200])
    assert reply.headers.get("content-type") == [PROBLEM_JSON], reply.headers

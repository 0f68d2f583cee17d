"""The consumer decides retry or dead letter by the error's kind, never by the HTTP answer it would render."""

from __future__ import annotations

import json
from typing import Any

import pytest

from payments_service.domain.errors import Refused, Transient
from tests.queue.conftest import message
from tests.support import unique, visa


class _NewRefusal(Refused):
    """A refusal the HTTP map does not name: it would render as a 500."""


class _NewOutage(Transient):
    """An outage the HTTP map does not name: it would render as a 500 too."""


class _RaisingProcessor:
    """The sandbox, except that a charge with source `tok_refuse` / `tok_outage` raises an unmapped error."""

    def __init__(self) -> None:
        from payments_service.processors.sandbox import SandboxProcessor

        self._sandbox = SandboxProcessor()

    def charge(self, *, source: str, **kwargs: Any) -> Any:
        if source == "tok_refuse":
            raise _NewRefusal("refused for good")
        if source == "tok_outage":
            raise _NewOutage("down for now")
        return self._sandbox.charge(source=source, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sandbox, name)


@pytest.fixture
def processor() -> Any:
    return _RaisingProcessor()


def _dead_letter_reasons(dead_letter_queue: tuple[Any, str]) -> list[str]:
    sqs, url = dead_letter_queue
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0)
    return [m["MessageAttributes"]["Dead-Letter-Reason"]["StringValue"] for m in got.get("Messages", [])]


def test_a_final_refusal_is_parked_and_an_outage_retried_whatever_http_would_answer(
    consume: Any, dead_letter_queue: tuple[Any, str]
) -> None:
    merchant = f"arn:aws:iam::111111111111:user/{unique('m')}"
    refused = message(json.dumps(visa(source="tok_refuse")), unique("k"), merchant)
    outage = message(json.dumps(visa(source="tok_outage")), unique("k"), merchant)

    failures = consume(refused, outage)

    assert failures == [outage["messageId"]]  # delivered again; the refusal was not
    assert _dead_letter_reasons(dead_letter_queue) == ["internal-error"]  # the slug HTTP would have answered

"""Parking a message that can never succeed on the dead-letter queue, with the reason beside it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import Transient


class DeadLetterUnavailable(Transient):
    """The dead-letter queue could not take the message; SQS will deliver it again."""


class SqsDeadLetters:
    def __init__(self, client: Callable[[], Any], queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def park(self, body: str, attributes: Mapping[str, Any], reason: str, first_sent_ms: int | None = None) -> None:
        """Send the message as received, plus a `Dead-Letter-Reason` attribute and, when known, when it was
        first sent (`Original-Sent-Timestamp`: the copy gets a new SentTimestamp, and a redrive must not make
        an old message look young)."""
        kept = {
            name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
            for name, value in _sendable(attributes).items()
        }
        kept["Dead-Letter-Reason"] = {"DataType": "String", "StringValue": reason}
        if first_sent_ms is not None:
            kept["Original-Sent-Timestamp"] = {"DataType": "String", "StringValue": str(first_sent_ms)}
        if not self._queue_url:
            raise DeadLetterUnavailable("no dead-letter queue configured")
        try:
            self._client().send_message(QueueUrl=self._queue_url, MessageBody=body or "(empty)", MessageAttributes=kept)
        except (ClientError, BotoCoreError) as error:
            raise DeadLetterUnavailable(type(error).__name__) from error


def _sendable(attributes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Lambda's SQS event spells attributes camelCase (stringValue); SendMessage wants StringValue."""
    renamed: dict[str, dict[str, Any]] = {}
    for name, value in attributes.items():
        if not isinstance(value, Mapping):
            continue
        out = {key[:1].upper() + key[1:]: item for key, item in value.items() if item is not None}
        if out.get("DataType") and (out.get("StringValue") or out.get("BinaryValue")):
            renamed[name] = out
    return renamed

"""Lambda's SQS event source mapping, on this machine: poll the queue, invoke the function with batches,
delete what succeeded, leave the rest for SQS to deliver again.

moto's SQS does the queue's part itself: visibility timeout, ApproximateReceiveCount, and the redrive to
the dead-letter queue once a message was received maxReceiveCount times (checked with moto 5: no emulation
needed). What is emulated here is only what Lambda's poller does.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from .environments import EnvironmentFailed, Invocation

# moto answers a long poll by sleeping inside the request, which would hold the embedded server's lock
# (DynamoDB included) for the whole wait: the poller short-polls instead, and backs off while the queue stays
# empty (as Lambda's pollers scale down on an idle queue): an idle `make run` then costs ~0 % of a core, and
# the first message after a quiet spell still starts within MAX_IDLE_PAUSE_SECONDS.
IDLE_PAUSE_SECONDS = 0.1  # after the first empty receive; also how long to wait for a free batch slot
MAX_IDLE_PAUSE_SECONDS = 0.8
REGION = "us-east-1"

Invoke = Callable[[dict[str, Any], float], Invocation | None]


def idle_pause(empty_receives: int) -> float:
    """The pause after `empty_receives` empty receives in a row (1 or more): doubling from IDLE_PAUSE_SECONDS,
    capped at MAX_IDLE_PAUSE_SECONDS. A receive that finds messages starts the schedule again."""
    return min(IDLE_PAUSE_SECONDS * 2.0 ** max(0, empty_receives - 1), MAX_IDLE_PAUSE_SECONDS)


def lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """An SQS message as Lambda hands it to the function (camelCase attributes, eventSource...)."""
    attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value["DataType"],
        }
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    for value in attributes.values():
        if value["binaryValue"] is None:
            del value["binaryValue"]
        if value["stringValue"] is None:
            del value["stringValue"]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes") or {},
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def failed_ids(invocation: Invocation | None, message_ids: set[str]) -> set[str]:
    """The messages to leave on the queue. As Lambda does: all of them when the invocation failed or its
    batchItemFailures is malformed or names a message not in the batch; else those it lists."""
    if invocation is None or invocation.error is not None or not isinstance(invocation.response, dict):
        return message_ids
    failures = invocation.response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return message_ids
    listed = {f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures}
    return {i for i in message_ids if i in listed} if listed <= message_ids else message_ids


class SqsEventSource:
    """One poller thread; each batch runs on its own thread, at most `maximum_concurrency` at once."""

    def __init__(  # noqa: PLR0917 - the mapping's whole configuration
        self,
        client: Any,
        queue_url: str,
        queue_arn: str,
        batch_size: int,
        maximum_concurrency: int,
        invoke: Invoke,
        timeout_seconds: float,
        log: IO[str] | None = None,
        dead_letter_queue_url: str | None = None,
        pause: Callable[[float], object] | None = None,
    ) -> None:
        """dead_letter_queue_url: where the function parks what can never succeed; each batch's line says how
        many messages wait there, since a parked message is "done" for SQS (deleted, not retried).
        pause: how the poller waits when the queue is empty (default: until stopped or the pause ends)."""
        self._client, self._queue_url, self._queue_arn = client, queue_url, queue_arn
        self._dead_letter_queue_url = dead_letter_queue_url
        self._batch_size = batch_size
        self._slots = threading.Semaphore(maximum_concurrency)
        self._invoke, self._timeout = invoke, timeout_seconds
        self._log = log or sys.stdout
        self._stop = threading.Event()
        self._batches: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._pause = pause or self._stop.wait
        self._poller = threading.Thread(target=self._poll, name="sqs-event-source", daemon=True)

    def start(self) -> SqsEventSource:
        self._poller.start()
        return self

    def _poll(self) -> None:
        empty_receives = 0
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=IDLE_PAUSE_SECONDS):
                continue
            try:
                messages = self._receive()
            except Exception as error:  # the server is stopping, or moto failed: try again shortly
                print(f"SQS poll failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
                messages = []
            if not messages:
                self._slots.release()
                empty_receives += 1
                self._pause(idle_pause(empty_receives))
                continue
            empty_receives = 0
            batch = threading.Thread(target=self._run_batch, args=(messages,), name="sqs-batch", daemon=True)
            with self._lock:
                self._batches.add(batch)
            batch.start()

    def _receive(self) -> list[dict[str, Any]]:
        answer = self._client.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = answer.get("Messages") or []
        return messages

    def _run_batch(self, messages: list[dict[str, Any]]) -> None:
        started = time.perf_counter()
        receipts = {m["MessageId"]: m["ReceiptHandle"] for m in messages}
        note = ""
        try:
            event = {"Records": [lambda_record(m, self._queue_arn) for m in messages]}
            try:
                invocation = self._invoke(event, self._timeout)
                if invocation is not None and invocation.error is not None:
                    note = f" (function error {invocation.error.get('errorType')}: whole batch retried)"
                elif invocation is None:
                    note = " (no environment free: whole batch retried)"
            except EnvironmentFailed as error:
                invocation, note = None, f" (function failed: {error}: whole batch retried)"
            retried = failed_ids(invocation, set(receipts))
            done = [message_id for message_id in receipts if message_id not in retried]
            self._delete(done, receipts)
            receives = max(int((m.get("Attributes") or {}).get("ApproximateReceiveCount", 1)) for m in messages)
            ms = (time.perf_counter() - started) * 1000
            print(
                f"SQS batch of {len(messages)}: {len(done)} done, {len(retried)} retried "
                f"(receive count up to {receives}) {ms:.1f}ms{note}{self._dead_letters_note()}",
                file=self._log,
                flush=True,
            )
        finally:
            with self._lock:
                self._batches.discard(threading.current_thread())
            self._slots.release()

    def _dead_letters_note(self) -> str:
        if not self._dead_letter_queue_url:
            return ""
        try:
            attributes = self._client.get_queue_attributes(
                QueueUrl=self._dead_letter_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
        except Exception:  # a log line's extra: never worth failing a batch for
            return ""
        waiting = int(attributes.get("ApproximateNumberOfMessages", 0))
        return (
            f"; dead-letter queue: {waiting} parked (never charged; the reason is on each message)" if waiting else ""
        )

    def _delete(self, message_ids: list[str], receipts: dict[str, str]) -> None:
        for start in range(0, len(message_ids), 10):  # DeleteMessageBatch's limit
            entries = [
                {"Id": str(n), "ReceiptHandle": receipts[i]} for n, i in enumerate(message_ids[start : start + 10])
            ]
            self._client.delete_message_batch(QueueUrl=self._queue_url, Entries=entries)

    def stop(self, grace_seconds: float) -> int:
        """No new batches; batches in flight finish (up to `grace_seconds`). Returns the batches cut short:
        their messages were not deleted, so SQS delivers them again after the visibility timeout."""
        self._stop.set()
        if self._poller.is_alive():
            self._poller.join()
        deadline = time.monotonic() + grace_seconds
        with self._lock:
            batches = list(self._batches)
        for batch in batches:
            batch.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            return len(self._batches)

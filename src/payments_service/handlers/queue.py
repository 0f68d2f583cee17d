"""Lambda entry point of the payment-request queue: each SQS message is a POST /payments by another road.

Same use case, same engine, same scope and fingerprint as HTTP, so a message and an HTTP request with
one merchant and key are one payment. Per message: created, declined or replayed -> done; in progress
elsewhere or a transient failure -> reported in batchItemFailures (SQS delivers it again); a message
that can never succeed -> parked on the dead-letter queue with its reason, never charged.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from .. import bootstrap
from ..domain.errors import Transient
from .idempotency_key import key_hash
from .invocation import remaining_ms
from .observability import OUTCOMES, Observation, logger, metrics
from .payment_responses import payment_status
from .problems import problem_for
from .queue_actions import QueueAction, queue_action
from .queue_messages import PaymentMessage, first_sent_ms, parse_message, refuse_if_outlived


class RetryLater(Transient):
    """Leave the message on the queue: SQS delivers it again after its visibility timeout."""


def _consume(record: SQSRecord, context: LambdaContext | None) -> str:
    observation = Observation("SQS payment-requests")
    status = 500
    try:
        # Before anything else: a message redriven after its key expired must not be claimed afresh.
        refuse_if_outlived(record, time.time_ns() // 1_000_000, bootstrap.settings().retention_seconds)
        message: PaymentMessage = parse_message(record)
        observation.fields["merchant"] = message.merchant
        observation.fields["idempotency_key_hash"] = key_hash(message.merchant, message.key)
        # No customer waits behind a queued payment: 3-D Secure is a decline here, never a payment left open.
        result = bootstrap.container().create_payment(
            message.merchant, message.key, message.request, remaining_ms(context), off_session=True
        )
        # The status the same request answers over HTTP: the log line reads as the API's does.
        observation.outcome, status = result.outcome, payment_status(result)
        return result.outcome
    except Exception as error:  # every outcome is decided here, message by message
        problem = problem_for(error)
        observation.failed(problem.outcome, error)
        status = problem.status
        if queue_action(error) is QueueAction.PARK:
            # No delivery can ever succeed: park it (never charged) instead of letting it be retried.
            attributes = record.raw_event.get("messageAttributes") or {}
            bootstrap.container().dead_letters.park(
                record.body or "", attributes, problem.slug, first_sent_ms=first_sent_ms(record)
            )
            # An inconsistent record stays an ERROR (someone must look); every other refusal is a parking.
            if OUTCOMES[problem.outcome].level != "ERROR":
                observation.outcome = "dead_lettered"
            observation.fields["reason"] = problem.slug
            return "dead-lettered"
        raise RetryLater(problem.slug) from error
    finally:
        observation.fields["message_id"] = record.message_id
        observation.finish(status)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # A processor per batch: it keeps the batch's successes and failures.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    try:
        # Every DynamoDB call of the batch fits in the invocation's time (dal/deadline.py): a message whose
        # turn comes too late is reported failed, and delivered again, rather than cut off mid-write.
        with bootstrap.budget(remaining_ms(context)):
            return process_partial_response(
                event=event,
                record_handler=lambda record: _consume(record, context),
                processor=processor,
                context=context,
            )
    finally:
        bootstrap.resume_collection()


bootstrap.initialize(bootstrap.settings().initialization_type)

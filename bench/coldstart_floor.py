"""The floor of a cold start: only the work ours and both baselines all do, measured for scale, not compared.

Import botocore and pydantic, build a DynamoDB client the cheapest way we know (ours: botocore's session with the
one-service loader, no boto3), validate the body with the same request model and write the payment item with one
PutItem. No Powertools, no idempotency, no routing, no logging.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

from payments_service.dal.clients import dynamodb_client
from payments_service.dal.payments_table import to_item
from payments_service.domain.payments import payment_id_for, rfc3339
from payments_service.domain.stored_payments import StoredPayment
from payments_service.models.payments import CreatePaymentRequest

client = dynamodb_client()
TABLE = os.environ["PAYMENTS_TABLE_NAME"]


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = CreatePaymentRequest.model_validate_json(event["body"])
    merchant = event["requestContext"]["identity"]["userArn"]
    reference = hashlib.sha256(f"{merchant}|{event['headers']['Idempotency-Key']}".encode()).hexdigest()[:40]
    payment = StoredPayment(
        id=payment_id_for(reference),
        merchant_id=merchant,
        processor_payment_id="ch_floor",
        amount=request.amount,
        currency=request.currency,
        description=request.description,
        metadata=request.metadata,
        created_at=rfc3339(time.time_ns() // 1_000_000),
    )
    client.put_item(TableName=TABLE, Item=to_item(payment))
    return {"statusCode": 201, "body": payment.public_json()}

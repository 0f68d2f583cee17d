"""POST /payments: key, fingerprint, then charge exactly once under the idempotency executor."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from ..domain.processor import Declined, InvalidPaymentSource, ProcessorUnavailable
from ..idempotency.fingerprint import fingerprint
from ..idempotency.records import StoredResponse
from ..idempotency.service import Claim, Completion, IdempotentRequest, Result
from ..models.payments import CreatePaymentRequest
from .dependencies import Dependencies
from .problems import PROBLEM_JSON, problem_body

ROUTE = "/payments"
REPLAYED_HEADER = "Idempotent-Replayed"


def create_payment(
    deps: Dependencies, merchant: str, key: str, request: CreatePaymentRequest, remaining_ms: int | None
) -> Result:
    idempotent = IdempotentRequest(
        scope=merchant, key=key, fingerprint=fingerprint("POST", ROUTE, request.model_dump(mode="json"))
    )

    def charge_once(claim: Claim) -> Completion:
        try:
            payment = deps.payments.charge(merchant, request, claim.reference)
        except Declined as decline:
            body = problem_body("card-declined", 402, "The card was declined", decline_code=decline.decline_code)
            return Completion(
                StoredResponse(status_code=402, headers={"Content-Type": PROBLEM_JSON}, body=body), "declined"
            )
        response = StoredResponse(
            status_code=201,
            headers={"Content-Type": "application/json", "Location": f"{ROUTE}/{payment.id}"},
            body=payment.public_json(),
        )
        return Completion(response, "created", writes=[deps.payments_table.insert_write(payment)])

    return deps.executor.execute(
        idempotent,
        charge_once,
        remaining_ms=remaining_ms,
        forget_on=(InvalidPaymentSource,),
        retry_on=(ProcessorUnavailable,),
    )


def to_http(result: Result) -> Response[str]:
    headers = dict(result.response.headers)
    if result.replayed:
        headers[REPLAYED_HEADER] = "true"
    content_type = headers.pop("Content-Type", "application/json")
    return Response(
        status_code=result.response.status_code, content_type=content_type, body=result.response.body, headers=headers
    )

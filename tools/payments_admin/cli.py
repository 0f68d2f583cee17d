"""`payments-admin key show|reconcile --merchant M --key K`, against the local run or a deployed stack.

Without --endpoint or --stack it finds the `make run` running from this directory by itself.
Exit status: 0 done, 1 no such key, 2 usage or connection errors.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from typing import Any, TextIO

from .target import Target, TargetError, local, running, stack

OK, NOT_FOUND, USAGE = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="payments-admin", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--endpoint", help="a local DynamoDB, e.g. http://127.0.0.1:8000 (make dynamodb)")
    where.add_argument("--port", type=int, help="the API port of the running `make run` to use (default: the only one)")
    where.add_argument("--stack", help="a deployed stack: table names from its CloudFormation outputs")
    p.add_argument("--prefix", default="local", help="with --endpoint: table name prefix (default: local)")
    p.add_argument("--region", help="with --stack: the stack's region (default: your AWS configuration)")
    nouns = p.add_subparsers(dest="noun", required=True)
    key = nouns.add_parser("key", help="one idempotency key").add_subparsers(dest="verb", required=True)
    for verb, help_text in (
        ("show", "status, lease, reference, payment id, expiry"),
        ("reconcile", "look the key's reference up at the processor and finish or leave the key, now"),
    ):
        cmd = key.add_parser(verb, help=help_text)
        who = cmd.add_mutually_exclusive_group(required=True)
        who.add_argument("--merchant", help="the merchant id as the API sees it (e.g. an IAM ARN)")
        who.add_argument(
            "--principal",
            help="the caller's IAM ARN: made a merchant id exactly as the API does, under the target's MERCHANT_SCOPE",
        )
        cmd.add_argument("--key", required=True, help="the Idempotency-Key the client sent")
        cmd.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def _when(epoch_ms: int | None) -> str | None:
    if epoch_ms is None:
        return None
    return datetime.datetime.fromtimestamp(epoch_ms / 1000, datetime.UTC).isoformat(timespec="milliseconds")


def describe(record: Any, now_ms: int) -> dict[str, Any]:
    """What an operator needs to know about a key, from its stored record."""
    from payments_service.domain.payments import payment_id_for
    from payments_service.models.payments import RecordedPayment

    # A refund key's answer is a RecordedRefund: only a payment's is read as one.
    is_payment = record.operation in ("", "payments.create")
    recorded = RecordedPayment.from_record(record.result) if record.result and is_payment else None
    lease_ms = record.lease_expires_at_ms
    return {
        "record_id": record.record_id,
        "status": record.status.value,
        "outcome": recorded.outcome if recorded else None,
        "lease_until": _when(lease_ms),
        "lease_live": record.lease_active(now_ms),
        "reference": record.reference,
        # Recorded once completed; until then the id a completion will have (derived from the reference).
        "payment_id": recorded.payment_id if recorded else payment_id_for(record.reference),
        "payment_recorded": bool(recorded and recorded.payment_id),
        "decline_code": recorded.decline_code if recorded else None,
        "unknown_since": _when(record.unknown_since_ms),
        # Recoveries that could not tell; parked: out of the reconciler's runs until `key reconcile` or a retry.
        "reconcile_attempts": record.reconcile_attempts,
        "parked": record.parked,
        "expires_at": _when(record.expires_at * 1000),
        "expired": record.is_expired(now_ms),
        "operation": record.operation or None,
    }


def _print(facts: dict[str, Any], as_json: bool, out: TextIO) -> None:
    if as_json:
        print(json.dumps(facts, indent=2), file=out)
        return
    width = max(len(k) for k in facts)
    for name, value in facts.items():
        shown = "-" if value is None else str(value).lower() if isinstance(value, bool) else value
        print(f"{name.replace('_', ' '):<{width}}  {shown}", file=out)


def run(args: argparse.Namespace, target: Target, out: TextIO) -> int:
    from payments_service import bootstrap
    from payments_service.dal.idempotency_table import DynamoDBIdempotencyStore
    from payments_service.handlers.principal import merchant_of_arn
    from payments_service.idempotency.clock import SystemClock
    from payments_service.idempotency.keys import record_id
    from payments_service.models.settings import Settings

    client = target.dynamodb()
    settings = Settings.from_env(target.environment())
    store = DynamoDBIdempotencyStore(lambda: client, settings.idempotency_table)
    merchant = args.merchant or merchant_of_arn(args.principal, settings.merchant_scope)
    rid = record_id(merchant, args.key)
    facts: dict[str, Any] = {"merchant": merchant, "key": args.key}
    if args.verb == "reconcile":
        container = bootstrap.build(settings, client=lambda: client)
        facts["reconciled"] = container.reconcile.key(rid)
    record = store.get(rid)
    if record is None:
        facts["status"] = "absent"
        _print(facts, args.json, out)
        return NOT_FOUND
    _print(facts | describe(record, SystemClock().now_ms()), args.json, out)
    return OK


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = parser().parse_args(argv)
    target: Target | None = None
    try:
        if args.endpoint:
            target = local(args.endpoint, args.prefix)
        elif args.stack:
            target = stack(args.stack, args.region)
        else:
            target = running(args.port)
        return run(args, target, out)
    except TargetError as error:
        print(f"payments-admin: {error}", file=sys.stderr)
        return USAGE
    except Exception as error:  # connection refused, missing table...: one line saying what, not a traceback
        from botocore.exceptions import BotoCoreError, ClientError

        from payments_service.idempotency.store import StoreUnavailable

        if not isinstance(error, (BotoCoreError, ClientError, StoreUnavailable)):
            raise
        where = (target.endpoint if target else None) or "AWS"
        cause = error.__cause__ if isinstance(error, StoreUnavailable) and error.__cause__ else error
        print(f"payments-admin: cannot read the tables at {where}: {type(cause).__name__}: {cause}", file=sys.stderr)
        return USAGE

"""A cold start's import and first POST /payments load the payment path only (issue 23): refunds, listing,
the queue, the reconciler, the key sweeper, Stripe (with the sandbox), the OpenAPI documentation and the
iso4217 XML parse stay out. Run in a fresh interpreter, as a Lambda execution environment starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support import payment_event, unique, visa

ROOT = Path(__file__).resolve().parents[2]

# Never on the first POST /payments with the sandbox processor (a prefix covers the package's submodules).
DENIED = (
    "stripe",
    "payments_service.processors.stripe",
    "payments_service.processors.stripe_events",
    "payments_service.logic.create_refund",
    "payments_service.logic.get_refund",
    "payments_service.logic.list_payments",
    "payments_service.logic.list_refunds",
    "payments_service.logic.reconcile",
    "payments_service.logic.follow_up",
    "payments_service.logic.recover_refund",
    "payments_service.logic.apply_processor_event",
    "payments_service.handlers.queue",
    "payments_service.handlers.queue_actions",
    "payments_service.handlers.reconciler",
    "payments_service.handlers.sweeper",
    "payments_service.logic.sweep_expired_keys",
    "payments_service.dal.expired_keys",
    "payments_service.idempotency.expiry",
    "payments_service.handlers.webhooks",
    "payments_service.handlers.api_docs",
    "payments_service.handlers.refund_responses",
    "payments_service.handlers.list_responses",
    "payments_service.models.lists",
    # errors only refunds, webhooks and the queue raise: handlers/problems.py maps them at the first error
    "payments_service.domain.refunds",
    "payments_service.domain.stored_refunds",
    "payments_service.models.refunds",
    "payments_service.domain.processor_events",
    "payments_service.handlers.queue_messages",
    "payments_service.dal.dead_letters",
    "payments_service.dal.secrets",
    "iso4217",
    "aws_xray_sdk",
    "boto3",  # the low-level clients come from botocore's session (dal/clients.py)
    "s3transfer",
)
# Loaded by Powertools' event_handler package itself (its __init__ imports every resolver, AppSync's
# asyncio included): any Powertools REST handler pays it, so it is not denied here. docs/performance.md.

_CHILD = """
import json, sys
from bench.coldstart_child import Context
event = json.load(open(sys.argv[1]))
import payments_service.handlers.api as api
imported = sorted(sys.modules)
status = api.lambda_handler(event, Context())["statusCode"]
json.dump({"imported": imported, "served": sorted(sys.modules), "status": status}, open(sys.argv[2], "w"))
"""


def _loaded(tmp_path: Path, env: dict[str, str]) -> dict[str, Any]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(payment_event(unique("k"), visa(), merchant=unique("m"))))
    result = tmp_path / "result.json"
    finished = subprocess.run(
        [sys.executable, "-c", _CHILD, str(event), str(result)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    loaded: dict[str, Any] = json.loads(result.read_text())
    return loaded


def _denied(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == d or m.startswith(d + ".") for d in DENIED)]


def _environment() -> dict[str, str]:
    return {
        **os.environ,  # the session's embedded DynamoDB and its tables (tests/conftest.py)
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "AWS_LAMBDA_FUNCTION_NAME": "PaymentsFunction",
        "PAYMENT_PROCESSOR": "sandbox",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def test_the_first_payment_loads_the_payment_path_only(dynamodb: Any, tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, _environment())
    assert loaded["status"] == 201
    assert _denied(loaded["imported"]) == []
    assert _denied(loaded["served"]) == []
    # And the payment path itself is there: the check would pass vacuously on a handler that loads nothing
    assert {"payments_service.logic.create_payment", "payments_service.processors.sandbox"} <= set(loaded["served"])


def test_the_deny_list_sees_a_regression(dynamodb: Any, tmp_path: Path) -> None:
    # Given a cold start that imports a denied module on its way (as the refund routes once did)
    env = _environment()
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import payments_service.logic.create_refund\n")
    env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
    loaded = _loaded(tmp_path, env)
    assert _denied(loaded["imported"]) == [  # it and the refund modules it brings
        "payments_service.domain.refunds",
        "payments_service.domain.stored_refunds",
        "payments_service.logic.create_refund",
        "payments_service.models.refunds",
    ]

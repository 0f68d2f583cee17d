"""The reconciler as deployed: scheduled every 5 minutes, built like the API, least privilege."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from local import template

ROOT = Path(__file__).resolve().parents[2]


def _reconciler() -> dict[str, Any]:
    return template.resources("AWS::Serverless::Function")["ReconcilerFunction"]


def test_it_runs_every_five_minutes_from_the_same_code_and_build_as_the_api() -> None:
    fn, api = _reconciler(), template.resources("AWS::Serverless::Function")["PaymentsFunction"]
    [event] = fn["Properties"]["Events"].values()
    assert event["Type"] in ("Schedule", "ScheduleV2")
    assert event["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    assert fn["Properties"]["CodeUri"] == api["Properties"]["CodeUri"]
    assert fn["Metadata"]["BuildMethod"] == api["Metadata"]["BuildMethod"] == "makefile"
    assert fn["Properties"]["Handler"] == "payments_service.handlers.reconciler.lambda_handler"


def test_sam_build_has_a_makefile_target_for_every_function() -> None:
    makefile = (ROOT / "src" / "Makefile").read_text()
    for name in template.resources("AWS::Serverless::Function"):
        assert f"build-{name}" in makefile, name


TABLE_ARNS = {f"{table}.Arn": f"{table}-arn" for table in ("IdempotencyTable", "PaymentsTable", "RefundsTable")}
GLOBAL_TABLES = {"TableReplication": "MREC", "TableNamePrefix": "pay", "ReplicaRegion": "us-west-2"}


def test_its_permissions_are_only_what_a_run_needs() -> None:
    statements = [  # on the tables; the customer key's use (only with KmsKeyArn) is held in tests/template
        s for s in template.policy_statements("ReconcilerFunction") if "dynamodb:" in str(s["Action"])
    ]
    granted = {(a, template.resolve(s["Resource"], TABLE_ARNS)) for s in statements for a in s["Action"]}
    actions = {a for a, _ in granted}
    assert actions == {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
    }
    assert ("dynamodb:Query", "IdempotencyTable-arn/index/UnresolvedIndex") in granted
    # Deleting is for forgetting a key (refused refunds), never a payment or a refund; nothing scans
    deleted = {resource for action, resource in granted if action == "dynamodb:DeleteItem"}
    assert deleted == {"IdempotencyTable-arn"}
    on_global_tables = {
        template.resolve(s["Resource"], params=GLOBAL_TABLES)
        for s in statements
        if "dynamodb:DeleteItem" in s["Action"]
    }
    assert on_global_tables == {"arn:aws:dynamodb:us-east-1:123456789012:table/pay-keys"}
    assert not any(a in actions for a in ("dynamodb:Scan", "dynamodb:*"))


def test_the_index_is_sparse_and_keys_only() -> None:
    table = template.resources("AWS::DynamoDB::Table")["IdempotencyTable"]["Properties"]
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "UnresolvedIndex"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["unresolved_bucket", "unresolved_at"]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}

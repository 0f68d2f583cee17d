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


def test_its_permissions_are_only_what_a_run_needs() -> None:
    statements = _reconciler()["Properties"]["Policies"][0]["Statement"]
    granted = {(a, str(s["Resource"])) for s in statements for a in s["Action"]}
    actions = {a for a, _ in granted}
    assert actions == {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
    }
    assert ("dynamodb:Query", str({"Fn::Sub": "${IdempotencyTable.Arn}/index/UnresolvedIndex"})) in granted
    # Deleting is for forgetting a key (refused refunds), never a payment or a refund; nothing scans
    deleted = {resource for action, resource in granted if action == "dynamodb:DeleteItem"}
    assert deleted == {str({"Fn::GetAtt": ["IdempotencyTable", "Arn"]})}
    assert not any(a in actions for a in ("dynamodb:Scan", "dynamodb:*"))


def test_the_index_is_sparse_and_keys_only() -> None:
    table = template.resources("AWS::DynamoDB::Table")["IdempotencyTable"]["Properties"]
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "UnresolvedIndex"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["unresolved_bucket", "unresolved_at"]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}

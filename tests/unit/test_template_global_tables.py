"""The template's two table layouts (docs/multi-region.md): single-Region tables by default, global
tables (MREC or MRSC) by parameter, the same schema either way, every function pointed at the tables
the parameters choose, and the rules CloudFormation checks before it creates anything."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from local import template

# single-Region logical id -> (global table logical id, name suffix)
TABLES = {
    "IdempotencyTable": ("IdempotencyGlobalTable", "keys"),
    "PaymentsTable": ("PaymentsGlobalTable", "payments"),
    "RefundsTable": ("RefundsGlobalTable", "refunds"),
    "SandboxChargesTable": ("SandboxChargesGlobalTable", "sandbox-charges"),
}
MRSC = {
    "TableReplication": "MRSC",
    "TableNamePrefix": "pay",
    "ReplicaRegion": "us-east-2",
    "WitnessRegion": "us-west-2",
}
MREC = {"TableReplication": "MREC", "TableNamePrefix": "pay", "ReplicaRegion": "eu-west-1"}
SECOND_REGION = {**MRSC, "TablesFrom": "replicas", "PaymentsStreamLabel": "2026-12-06T10:00:00.000"}


def _resource(name: str) -> dict[str, Any]:
    resource: dict[str, Any] = template.load()["Resources"][name]
    return resource


def _present(values: list[Any]) -> list[Any]:
    return [value for value in values if value is not None]  # AWS::NoValue drops a list item


def test_the_default_is_todays_single_region_tables_and_breaks_no_rule() -> None:
    assert template.rule_violations() == []
    assert template.condition("SingleRegionTables") and not template.condition("CreatesGlobalTables")
    for single, (global_table, _) in TABLES.items():
        assert _resource(single)["Condition"] == "SingleRegionTables"
        assert _resource(global_table)["Condition"] == "CreatesGlobalTables"
    assert template.resources("AWS::DynamoDB::GlobalTable").keys() == {g for g, _ in TABLES.values()}


@pytest.mark.parametrize("single", TABLES)
def test_a_global_table_has_its_single_region_tables_schema(single: str) -> None:
    global_table = TABLES[single][0]
    one, many = _resource(single)["Properties"], _resource(global_table)["Properties"]
    assert many["KeySchema"] == one["KeySchema"]
    assert many.get("GlobalSecondaryIndexes") == one.get("GlobalSecondaryIndexes")
    assert "LocalSecondaryIndexes" not in many  # nothing reads the refunds' LSI; MRSC has none
    used = {a["AttributeName"] for a in many["KeySchema"]} | {
        a["AttributeName"] for index in many.get("GlobalSecondaryIndexes", []) for a in index["KeySchema"]
    }
    assert {a["AttributeName"] for a in many["AttributeDefinitions"]} == used  # DynamoDB refuses unused ones
    assert [a for a in one["AttributeDefinitions"] if a["AttributeName"] in used] == many["AttributeDefinitions"]
    assert many["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}  # replication needs it
    assert _resource(global_table)["DeletionPolicy"] == "Retain" == _resource(single)["DeletionPolicy"]


@pytest.mark.parametrize("params", [MRSC, MREC, {**MREC, "ThirdReplicaRegion": "ap-south-1"}])
def test_every_replica_is_protected_and_recoverable(params: dict[str, str]) -> None:
    for global_table, _ in TABLES.values():
        props = template.resolve(_resource(global_table)["Properties"], params=params)
        replicas = _present(props["Replicas"])
        expected = ["us-east-1", params["ReplicaRegion"], *_present([params.get("ThirdReplicaRegion")])]
        assert [r["Region"] for r in replicas] == expected
        for replica in replicas:
            assert replica["DeletionProtectionEnabled"] is True
            assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_strong_consistency_gets_its_witness_no_ttl_the_sequential_completion_and_the_sweeper() -> None:
    keys = template.resolve(_resource("IdempotencyGlobalTable")["Properties"], params=MRSC)
    assert keys["MultiRegionConsistency"] == "STRONG"
    assert keys["GlobalTableWitnesses"] == [{"Region": "us-west-2"}]
    assert keys["TimeToLiveSpecification"] is None  # MRSC: the sweeper expires keys
    assert template.condition("UseKeySweeper", MRSC)
    for name in ("PaymentsFunction", "PaymentQueueFunction", "ReconcilerFunction"):
        env = template.environment({}, name, {**MRSC, "IdempotencyCompletion": "transaction"})
        assert env["IDEMPOTENCY_COMPLETION"] == "sequential", name  # no transactions under MRSC


def test_eventual_consistency_keeps_ttl_and_the_chosen_completion() -> None:
    keys = template.resolve(_resource("IdempotencyGlobalTable")["Properties"], params=MREC)
    assert keys["MultiRegionConsistency"] == "EVENTUAL"
    assert keys["GlobalTableWitnesses"] is None
    assert keys["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert template.environment({}, "PaymentsFunction", MREC)["IDEMPOTENCY_COMPLETION"] == "transaction"
    assert not template.condition("UseKeySweeper", MREC)


@pytest.mark.parametrize("params", [MRSC, SECOND_REGION])
def test_every_function_finds_the_global_tables_by_name(params: dict[str, str]) -> None:
    for name in template.resources("AWS::Serverless::Function"):
        env = template.environment({}, name, params)
        for variable in ("IDEMPOTENCY_TABLE_NAME", "PAYMENTS_TABLE_NAME", "REFUNDS_TABLE_NAME"):
            if variable in env:
                assert env[variable] == "pay-" + variable.removesuffix("_TABLE_NAME").lower().replace(
                    "idempotency", "keys"
                ), (name, variable)
        if "SANDBOX_CHARGES_TABLE_NAME" in env:
            assert env["SANDBOX_CHARGES_TABLE_NAME"] == "pay-sandbox-charges"


def test_the_second_regions_pipes_read_its_own_payments_replica_stream_once_given_its_label() -> None:
    stream = "arn:aws:dynamodb:us-east-1:123456789012:table/pay-payments/stream/2026-12-06T10:00:00.000"
    for pipe in ("PaymentEventsPipe", "PaymentStatusEventsPipe", "PaymentEventsPipeRole"):
        assert _resource(pipe)["Condition"] == "ReadsPaymentsStream"
    for pipe in ("PaymentEventsPipe", "PaymentStatusEventsPipe"):
        assert template.resolve(_resource(pipe)["Properties"]["Source"], params=SECOND_REGION) == stream
    assert template.condition("ReadsPaymentsStream") and template.condition("ReadsPaymentsStream", MRSC)
    assert template.condition("ReadsPaymentsStream", SECOND_REGION)
    # Before the label is known the second Region deploys without pipes (the first Region's publish)
    assert not template.condition("ReadsPaymentsStream", {**SECOND_REGION, "PaymentsStreamLabel": ""})
    assert template.rule_violations({**SECOND_REGION, "PaymentsStreamLabel": ""}) == []


def _unguarded_references(value: Any, guarded: bool = False) -> list[str]:
    """Mentions of a single-Region table outside the first branch of an !If on SingleRegionTables."""
    if isinstance(value, dict):
        if list(value) == ["Fn::If"]:
            condition, when_true, when_false = value["Fn::If"]
            inside = guarded or condition == "SingleRegionTables"
            return _unguarded_references(when_true, inside) + _unguarded_references(when_false, guarded)
        return [found for v in value.values() for found in _unguarded_references(v, guarded)]
    if isinstance(value, list):
        return [found for v in value for found in _unguarded_references(v, guarded)]
    if isinstance(value, str) and not guarded:
        return [
            t for t in TABLES if value == t or value.startswith(t + ".") or f"${{{t}}}" in value or f"${{{t}." in value
        ]
    return []


def test_no_resource_or_output_reaches_a_single_region_table_the_parameters_did_not_create() -> None:
    doc = template.load()
    places = {n: r for n, r in doc["Resources"].items() if n not in TABLES} | {"Outputs": doc["Outputs"]}
    assert {name: found for name, place in places.items() if (found := _unguarded_references(place))} == {}


@pytest.mark.parametrize(
    ("params", "refused"),
    [
        ({"TableReplication": "MRSC"}, "TableNamePrefix"),
        ({**MREC, "ReplicaRegion": ""}, "need ReplicaRegion"),
        ({**MREC, "ReplicaRegion": "us-east-1"}, "another Region"),
        ({**MRSC, "WitnessRegion": ""}, "exactly three Regions"),
        ({**MRSC, "ThirdReplicaRegion": "us-east-2"}, "exactly three Regions"),  # a witness and a third
        ({**MREC, "WitnessRegion": "us-west-2"}, "for MRSC only"),
        ({"TablesFrom": "replicas"}, "needs TableReplication"),
        ({**MREC, "KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/mrk-" + "0" * 32}, "ReplicaKmsKeyArn"),
    ],
)
def test_the_rules_refuse_a_layout_that_cannot_work(params: dict[str, str], refused: str) -> None:
    assert any(refused in broken for broken in template.rule_violations(params)), template.rule_violations(params)


@pytest.mark.parametrize(
    "params", [MRSC, MREC, SECOND_REGION, {**MRSC, "WitnessRegion": "", "ThirdReplicaRegion": "us-west-2"}]
)
def test_the_rules_accept_the_documented_layouts(params: dict[str, str]) -> None:
    assert template.rule_violations(params) == []


def _samconfig_layouts() -> dict[str, dict[str, str]]:
    config = tomllib.loads((template.ROOT / "samconfig.toml").read_text())
    layouts = {}
    for env, commands in config.items():
        if isinstance(commands, dict) and "parameter_overrides" in commands.get("deploy", {}).get("parameters", {}):
            pairs = commands["deploy"]["parameters"]["parameter_overrides"]
            region = commands["global"]["parameters"]["region"]
            layouts[env] = {"AWS::Region": region} | dict(pair.split("=", 1) for pair in pairs)
    return layouts


def test_the_samconfig_examples_deploy_one_set_of_global_tables_from_the_first_region() -> None:
    layouts = _samconfig_layouts()
    assert len(layouts) == 2  # one per Region
    for env, params in layouts.items():
        assert template.rule_violations(params) == [], env
        assert params["ReplicaRegion"] in {p["AWS::Region"] for p in layouts.values()} - {params["AWS::Region"]}
        names = template.environment({}, "PaymentsFunction", params)
        assert names["IDEMPOTENCY_TABLE_NAME"] == f"{params['TableNamePrefix']}-keys", env
    creators = [env for env, params in layouts.items() if template.condition("CreatesGlobalTables", params)]
    assert len(creators) == 1  # the other stack uses its replicas

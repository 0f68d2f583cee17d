"""The template's choices for tables that run no transactions and have no TTL (global tables in strong
consistency, docs/multi-region.md): the completion every key-completing function uses, and the key sweeper."""

from __future__ import annotations

import importlib
import typing

from local import template
from local.runtime import function_environment
from payments_service.models.settings import Settings

# The functions that complete keys: the API, the queue consumer, the reconciler.
COMPLETING = ("PaymentsFunction", "PaymentQueueFunction", "ReconcilerFunction")


def test_every_function_that_completes_keys_takes_the_one_completion_parameter() -> None:
    functions = template.resources("AWS::Serverless::Function")
    for name in functions:
        for chosen in ("transaction", "sequential"):
            env = template.environment({}, name, {"IdempotencyCompletion": chosen})
            if name in COMPLETING:
                assert env["IDEMPOTENCY_COMPLETION"] == chosen, name
            else:
                assert "IDEMPOTENCY_COMPLETION" not in env, name  # it completes no key: the setting would mislead
    allowed = template.load()["Parameters"]["IdempotencyCompletion"]["AllowedValues"]
    settings_values = typing.get_args(Settings.model_fields["idempotency_completion"].annotation)
    assert sorted(allowed) == sorted(settings_values)


def test_a_local_run_can_choose_the_sequential_completion_and_defaults_to_the_transaction() -> None:
    refs = {"IdempotencyTable": "k", "PaymentsTable": "p", "RefundsTable": "r"}
    assert function_environment("http://127.0.0.1:1", refs, {})["IDEMPOTENCY_COMPLETION"] == "transaction"
    chosen = function_environment("http://127.0.0.1:1", refs, {"IDEMPOTENCY_COMPLETION": "sequential"})
    assert chosen["IDEMPOTENCY_COMPLETION"] == "sequential"


def test_the_key_sweeper_exists_only_with_key_expiry_sweeper_on_a_schedule_with_least_privilege() -> None:
    doc = template.load()
    assert template.condition("UseKeySweeper", {"KeyExpiry": "sweeper"})
    assert not template.condition("UseKeySweeper")
    assert doc["Parameters"]["KeyExpiry"]["Default"] == "ttl"  # TTL where the table has it
    fn = template.resources("AWS::Serverless::Function")["KeySweeperFunction"]
    assert fn["Condition"] == "UseKeySweeper"
    assert doc["Resources"]["KeySweeperFunctionLogGroup"]["Condition"] == "UseKeySweeper"
    module, _, attribute = fn["Properties"]["Handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module), attribute))
    [event] = fn["Properties"]["Events"].values()
    assert event["Type"] == "ScheduleV2" and event["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    granted = template.policy_statements("KeySweeperFunction")
    [statement] = [s for s in granted if "dynamodb:" in str(s["Action"])]  # the other: KMS, with KmsKeyArn
    assert [s["Action"] for s in granted if s is not statement] == [["kms:Decrypt", "kms:GenerateDataKey"]]
    actions = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"]
    assert sorted(statement["Action"]) == actions
    assert template.resolve(statement["Resource"], {"IdempotencyTable.Arn": "keys-arn"}) == "keys-arn"
    env = fn["Properties"]["Environment"]["Variables"]
    assert env["FUNCTION_TIMEOUT_SECONDS"] == fn["Properties"]["Timeout"]

"""Operations: log retention, alarms that reach someone, a dashboard of the outcomes, tables that survive mistakes."""

from __future__ import annotations

import json
import re
from typing import Any

from local import template
from payments_service.handlers.observability import OUTCOMES, metric_name
from tests.template.conftest import of_type

# The per-outcome metrics the function emits (handlers/observability.py: "Payment" + outcome).
# The metrics the code can emit: one per outcome (handlers/observability.py).
OUTCOME_METRICS = {metric_name(outcome) for outcome in OUTCOMES}
TOPIC = {"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}


def _alarms(sam: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: res["Properties"] for name, res in of_type(sam, "AWS::CloudWatch::Alarm").items()}


def _metrics_of(alarm: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric, dimensions) of a plain or a metric-math alarm."""
    if "MetricName" in alarm:
        dimensions = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
        return [(alarm["Namespace"], alarm["MetricName"], dimensions)]
    found = []
    for query in alarm["Metrics"]:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            found.append(
                (metric["Namespace"], metric["MetricName"], {d["Name"]: d["Value"] for d in metric["Dimensions"]})
            )
    return found


def test_every_function_logs_to_a_declared_group_with_the_retention(
    sam: dict[str, Any], transformed: dict[str, Any]
) -> None:
    retention = sam["Parameters"]["LogRetentionDays"]
    assert retention["Default"] == 30 and retention["Default"] in retention["AllowedValues"]
    functions = of_type(sam, "AWS::Serverless::Function")
    assert functions
    for function in functions.values():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert sam["Resources"][group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    # And no log group of the deployed stack keeps logs forever
    for group in of_type(transformed, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_every_alarm_notifies_the_topic_and_says_what_it_means(sam: dict[str, Any]) -> None:
    for name, alarm in _alarms(sam).items():
        assert alarm["AlarmActions"] == [TOPIC] and alarm["OKActions"] == [TOPIC], name
        assert len(alarm["AlarmDescription"]) > 40, name
        assert alarm["TreatMissingData"] == "notBreaching", name  # no traffic is no incident
    topic = sam["Resources"]["AlarmTopic"]
    assert topic["Condition"] == "CreateAlarmTopic" and sam["Parameters"]["AlarmTopicArn"]["Default"] == ""


def test_the_api_5xx_alarm_is_a_rate_on_the_deployed_stage(sam: dict[str, Any]) -> None:
    alarm = _alarms(sam)["Api5xxRateAlarm"]
    api = sam["Resources"]["PaymentsApi"]["Properties"]
    ((namespace, metric, dimensions),) = _metrics_of(alarm)
    assert (namespace, metric, alarm["Statistic"]) == ("AWS/ApiGateway", "5XXError", "Average")
    assert dimensions == {"ApiName": api["Name"], "Stage": api["StageName"]}
    assert 0 < alarm["Threshold"] < 1


def test_the_function_is_watched_for_errors_throttles_and_duration(sam: dict[str, Any]) -> None:
    watched = {
        m
        for alarm in _alarms(sam).values()
        for ns, m, dims in _metrics_of(alarm)
        if ns == "AWS/Lambda" and dims["FunctionName"] == {"Ref": "PaymentsFunction"}
    }
    assert watched == {"Errors", "Throttles", "Duration"}


def test_the_queue_is_watched_for_dead_letters_and_a_failing_consumer(sam: dict[str, Any]) -> None:
    watched = {(ns, m) for alarm in _alarms(sam).values() for ns, m, _ in _metrics_of(alarm)}
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in watched
    dead_letters = _alarms(sam)["QueueDeadLettersAlarm"]
    assert dead_letters["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["PaymentRequestsDeadLetterQueue", "QueueName"]}
    errors = _alarms(sam)["QueueFunctionErrorsAlarm"]
    assert errors["Dimensions"][0]["Value"] == {"Ref": "PaymentQueueFunction"}


def _single_region(value: Any) -> Any:
    """A table reference as the single-Region layout (the default) takes it; global tables have
    their own test (tests/unit/test_template_global_tables.py)."""
    if isinstance(value, dict) and value.get("Fn::If", [None])[0] == "SingleRegionTables":
        return value["Fn::If"][1]
    return value


def _table_of(arn: str) -> str:
    found = re.match(r"\$\{(\w+)\.Arn\}", arn)
    assert found, arn
    return found.group(1)


def test_dynamodb_alarms_cover_both_tables_and_every_operation_the_function_may_call(sam: dict[str, Any]) -> None:
    tables = set(of_type(sam, "AWS::DynamoDB::Table"))
    metrics = [m for alarm in _alarms(sam).values() for m in _metrics_of(alarm) if m[0] == "AWS/DynamoDB"]
    throttles = {(m, _single_region(d["TableName"])["Ref"]) for _, m, d in metrics if m.endswith("ThrottleEvents")}
    assert throttles == {(m, t) for m in ("ReadThrottleEvents", "WriteThrottleEvents") for t in tables}
    # System errors are per operation: each table's IAM actions, and the transaction that writes both
    allowed: set[tuple[str, str]] = {("TransactWriteItems", t) for t in tables}
    for function in of_type(sam, "AWS::Serverless::Function"):
        for statement in template.policy_statements(function):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if not all(action.startswith("dynamodb:") for action in actions):
                continue  # the queue consumer's dead letters, the customer key
            resource = _single_region(statement["Resource"])
            # the table itself, or one of its indexes ("${Table.Arn}/index/...")
            table = resource["Fn::GetAtt"][0] if "Fn::GetAtt" in resource else _table_of(resource["Fn::Sub"])
            allowed |= {(action.removeprefix("dynamodb:"), table) for action in actions}
    errors = {(d["Operation"], _single_region(d["TableName"])["Ref"]) for _, m, d in metrics if m == "SystemErrors"}
    assert errors == allowed
    # Missing data points count as zero, so one quiet table does not blind the sum
    for name in [n for n in _alarms(sam) if n.startswith("DynamoDb")]:
        (expression,) = [q["Expression"] for q in _alarms(sam)[name]["Metrics"] if "Expression" in q]
        assert expression == "SUM(FILL(METRICS(), 0))"


def test_the_dashboard_shows_every_outcome_metric_the_function_emits(sam: dict[str, Any]) -> None:
    body_template, _names = sam["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    # Given the body with every ${...} substituted, as CloudFormation does
    body = json.loads(re.sub(r"\$\{[^}]+\}", "x", body_template))
    environment = sam["Resources"]["PaymentsFunction"]["Properties"]["Environment"]["Variables"]
    namespace, service = environment["POWERTOOLS_METRICS_NAMESPACE"], environment["POWERTOOLS_SERVICE_NAME"]
    shown = {
        metric[1]
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for metric in widget["properties"]["metrics"]
        if metric[0] == namespace and metric[2:4] == ["service", service]
    }
    assert shown == OUTCOME_METRICS
    # And its alarm widget shows every alarm
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    named = set(re.findall(r"\$\{(\w+)\.Arn\}", body_template))
    assert len(alarm_widget["properties"]["alarms"]) == len(named) and named == set(_alarms(sam))


def test_tables_survive_a_deleted_stack_and_a_bad_write(sam: dict[str, Any]) -> None:
    for name, table in of_type(sam, "AWS::DynamoDB::Table").items():
        assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain"), name
        properties = table["Properties"]
        assert properties["DeletionProtectionEnabled"] is True, name
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name
        sse = properties["SSESpecification"]
        assert sse["SSEEnabled"] is True
        assert sse["KMSMasterKeyId"] == {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]}


def test_with_a_customer_key_every_role_reading_the_tables_or_queues_may_use_it_through_them_only(
    transformed: dict[str, Any],
) -> None:
    # The tables, their streams and both queues are encrypted with KmsKeyArn (above); DynamoDB and SQS use it with
    # the caller's permissions, so without this each function fails its first call on AWS (moto has no KMS).
    key_use = transformed["Resources"]["CustomerKeyUse"]
    assert key_use["Condition"] == "HasKmsKey"
    (statement,) = key_use["Properties"]["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statement["Resource"] == {"Ref": "KmsKeyArn"}
    services = [s["Fn::Sub"] for s in statement["Condition"]["StringEquals"]["kms:ViaService"]]
    assert services == ["dynamodb.${AWS::Region}.amazonaws.com", "sqs.${AWS::Region}.amazonaws.com"]
    attached = {"Fn::If": ["HasKmsKey", {"Ref": "CustomerKeyUse"}, {"Ref": "AWS::NoValue"}]}
    roles = of_type(transformed, "AWS::IAM::Role")
    for function in of_type(transformed, "AWS::Lambda::Function"):
        assert attached in roles[f"{function}Role"]["Properties"]["ManagedPolicyArns"], function
    pipe = roles["PaymentEventsPipeRole"]["Properties"]["ManagedPolicyArns"]
    assert pipe == {"Fn::If": ["HasKmsKey", [{"Ref": "CustomerKeyUse"}], {"Ref": "AWS::NoValue"}]}


def test_reserved_concurrency_is_a_parameter_that_reserves_nothing_by_default(sam: dict[str, Any]) -> None:
    assert sam["Parameters"]["ReservedConcurrency"]["Default"] == 0
    reserved = sam["Resources"]["PaymentsFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert reserved == {"Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}


def test_every_checkov_suppression_gives_its_reason(sam: dict[str, Any]) -> None:
    suppressions = [
        s for r in sam["Resources"].values() for s in (r.get("Metadata") or {}).get("checkov", {}).get("skip", [])
    ]
    assert suppressions
    for suppression in suppressions:
        assert re.fullmatch(r"CKV2?_AWS_\d+", suppression["id"]) and len(suppression["comment"]) > 20, suppression


def test_every_error_line_of_every_function_raises_the_error_logs_alarm(sam: dict[str, Any]) -> None:
    groups = {
        f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for f in of_type(sam, "AWS::Serverless::Function").values()
    }
    filters = of_type(sam, "AWS::Logs::MetricFilter")
    counted = {
        f["Properties"]["LogGroupName"]["Ref"]: (t["MetricNamespace"], t["MetricName"])
        for f in filters.values()
        if f["Properties"]["FilterPattern"] == '{ $.level = "ERROR" }'
        for t in f["Properties"]["MetricTransformations"]
    }
    assert set(counted) == groups  # each function's log group, none missed
    (metric,) = set(counted.values())
    alarm = _alarms(sam)["ErrorLogsAlarm"]
    assert (alarm["Namespace"], alarm["MetricName"]) == metric
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == ("Sum", 0, "GreaterThanThreshold")

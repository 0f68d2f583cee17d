"""Releases: each deploy publishes a SnapStart version behind `live`; CodeDeploy shifts it, alarms roll it back."""

from __future__ import annotations

import json
from typing import Any

from local import template
from tests.template.conftest import of_type


def _function(sam: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = sam["Resources"]["PaymentsFunction"]["Properties"]
    return properties


def test_the_api_invokes_the_live_alias_of_a_snapstart_version(
    sam: dict[str, Any], transformed: dict[str, Any]
) -> None:
    alias_name = _function(sam)["AutoPublishAlias"]
    (alias_id, alias), *more = of_type(transformed, "AWS::Lambda::Alias").items()
    assert not more and alias["Properties"]["Name"] == alias_name == "live"
    # SnapStart applies to published versions, which AutoPublishAlias creates on every deploy
    function = of_type(transformed, "AWS::Lambda::Function")["PaymentsFunction"]
    assert function["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert function["Properties"]["Runtime"] == "python3.13"  # SnapStart supports Python 3.12 and later
    # Every merchant route's integration and invoke permission target the alias, never $LATEST (the webhook's
    # function has no SnapStart and no alias: it is invoked as published)
    body = of_type(transformed, "AWS::ApiGateway::RestApi")["PaymentsApi"]["Properties"]["Body"]
    uris = [
        op["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        for p in body["paths"].values()
        for op in p.values()
        if op["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
        and "StripeWebhookFunction" not in json.dumps(op["x-amazon-apigateway-integration"]["uri"])
    ]
    signed = [route for route in template.routes() if route.signed]
    assert len(uris) == len(signed) and all("${" + alias_id + "}" in uri for uri in uris)
    permissions = [
        p for p in of_type(transformed, "AWS::Lambda::Permission").values() if "StripeWebhook" not in json.dumps(p)
    ]
    assert permissions and all(p["Properties"]["FunctionName"] == {"Ref": alias_id} for p in permissions)


def test_a_deploy_is_a_canary_by_default_and_all_at_once_on_request(sam: dict[str, Any]) -> None:
    parameter = sam["Parameters"]["DeploymentType"]
    assert parameter["Default"].startswith("Canary")
    assert "AllAtOnce" in parameter["AllowedValues"]
    assert _function(sam)["DeploymentPreference"]["Type"] == {"Ref": "DeploymentType"}


def test_the_alarms_roll_a_deployment_back(sam: dict[str, Any], transformed: dict[str, Any]) -> None:
    (group,) = of_type(transformed, "AWS::CodeDeploy::DeploymentGroup").values()
    rollback = group["Properties"]["AutoRollbackConfiguration"]
    assert rollback["Enabled"] and "DEPLOYMENT_STOP_ON_ALARM" in rollback["Events"]
    watched = {a["Name"]["Ref"] for a in group["Properties"]["AlarmConfiguration"]["Alarms"]}
    assert watched == {"Api5xxRateAlarm", "FunctionErrorsAlarm", "FunctionDurationAlarm"}
    # The alias moves only through CodeDeploy
    (alias,) = of_type(transformed, "AWS::Lambda::Alias").values()
    assert "CodeDeployLambdaAliasUpdate" in alias["UpdatePolicy"]


def test_the_function_alarms_watch_the_version_being_deployed(sam: dict[str, Any]) -> None:
    alias = _function(sam)["AutoPublishAlias"]
    for name in ("FunctionErrorsAlarm", "FunctionDurationAlarm"):
        dimensions = {d["Name"]: d["Value"] for d in sam["Resources"][name]["Properties"]["Dimensions"]}
        assert dimensions == {
            "FunctionName": {"Ref": "PaymentsFunction"},
            "Resource": {"Fn::Sub": "${PaymentsFunction}:" + alias},
            "ExecutedVersion": {"Fn::GetAtt": ["PaymentsFunction", "Version.Version"]},
        }


def test_the_duration_alarm_fires_at_80_percent_of_the_timeout(sam: dict[str, Any]) -> None:
    alarm = sam["Resources"]["FunctionDurationAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["ExtendedStatistic"]) == ("Duration", "p99")
    assert alarm["Threshold"] == 0.8 * template.timeout_seconds() * 1000

"""What API Gateway answers itself keeps our contract: problem+json bodies, one v1 stage, throttling, access logs."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.template.conftest import of_type
from tools import openapi

PROBLEM_BASE = "urn:idempotent-payments:problem:"
# Every response type API Gateway REST APIs have, with the status API Gateway gives it (AWS documentation,
# "Gateway response types"); DEFAULT_4XX/DEFAULT_5XX cover any other 4xx/5xx it may answer.
RESPONSE_TYPES = {
    "ACCESS_DENIED": 403,
    "API_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_FAILURE": 500,
    "BAD_REQUEST_BODY": 400,
    "BAD_REQUEST_PARAMETERS": 400,
    "EXPIRED_TOKEN": 403,
    "INTEGRATION_FAILURE": 504,
    "INTEGRATION_TIMEOUT": 504,
    "INVALID_API_KEY": 403,
    "INVALID_SIGNATURE": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "QUOTA_EXCEEDED": 429,
    "REQUEST_TOO_LARGE": 413,
    "RESOURCE_NOT_FOUND": 404,
    "THROTTLED": 429,
    "UNAUTHORIZED": 401,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "WAF_FILTERED": 403,
}
CATCH_ALL = ("DEFAULT_4XX", "DEFAULT_5XX")
REQUEST_ID = "c0ffee00-0000-4000-8000-000000000001"


def _rest_api(transformed: dict[str, Any]) -> dict[str, Any]:
    (api,) = of_type(transformed, "AWS::ApiGateway::RestApi").values()
    return api


def _gateway_responses(transformed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    responses: dict[str, dict[str, Any]] = _rest_api(transformed)["Properties"]["Body"][
        "x-amazon-apigateway-gateway-responses"
    ]
    return responses


def _stage(transformed: dict[str, Any]) -> dict[str, Any]:
    (stage,) = of_type(transformed, "AWS::ApiGateway::Stage").values()
    properties: dict[str, Any] = stage["Properties"]
    return properties


def render(body_template: str, message: str) -> dict[str, Any]:
    """What API Gateway sends: $context.error.messageString arrives JSON-quoted, $context.requestId bare."""
    body = body_template.replace("$context.error.messageString", json.dumps(message))
    body = body.replace("$context.requestId", REQUEST_ID)
    assert "$context" not in body, f"a variable the gateway response does not substitute: {body}"
    rendered: dict[str, Any] = json.loads(body)
    return rendered


@pytest.mark.parametrize("response_type", [*RESPONSE_TYPES, *CATCH_ALL])
def test_every_gateway_response_is_a_problem_json_document(transformed: dict[str, Any], response_type: str) -> None:
    # Given what the deployed API answers when the function never runs
    response = _gateway_responses(transformed)[response_type]
    # Then its media type is problem+json
    assert response["responseParameters"]["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
    # And its body, with a message holding quotes and a backslash, is a JSON problem of our type scheme
    message = 'User: arn:aws:iam::1:user/"x\\y" is not authorized'
    problem = render(response["responseTemplates"]["application/json"], message)
    assert re.fullmatch(re.escape(PROBLEM_BASE) + r"[a-z0-9]+(-[a-z0-9]+)*", problem["type"])
    assert problem["title"] and problem["detail"] == message and problem["request_id"] == REQUEST_ID
    if response_type in RESPONSE_TYPES:
        # And the status in the body is the status sent, the one API Gateway gives that type
        assert problem["status"] == int(response["statusCode"]) == RESPONSE_TYPES[response_type]
    else:
        # A catch-all covers several statuses: it states none rather than a wrong one (RFC 9457 allows it)
        assert "status" not in problem and "statusCode" not in response


def test_each_gateway_response_type_has_its_own_stable_type(transformed: dict[str, Any]) -> None:
    types = [
        render(r["responseTemplates"]["application/json"], "m")["type"]
        for r in _gateway_responses(transformed).values()
    ]
    assert len(types) == len(set(types)) == len(RESPONSE_TYPES) + len(CATCH_ALL)


def test_an_unsigned_request_gets_403_missing_authentication_token(transformed: dict[str, Any]) -> None:
    response = _gateway_responses(transformed)["MISSING_AUTHENTICATION_TOKEN"]
    problem = render(response["responseTemplates"]["application/json"], "Missing Authentication Token")
    assert (response["statusCode"], problem["type"]) == ("403", PROBLEM_BASE + "missing-authentication-token")


def test_a_throttled_answer_says_when_to_retry(transformed: dict[str, Any]) -> None:
    headers = _gateway_responses(transformed)["THROTTLED"]["responseParameters"]
    assert re.fullmatch(r"'[1-9][0-9]*'", headers["gatewayresponse.header.Retry-After"])


def test_the_api_deploys_exactly_one_stage_named_v1(sam: dict[str, Any], transformed: dict[str, Any]) -> None:
    # Without OpenApiVersion the SAM transform adds a stage named "Stage" next to ours
    stages = of_type(transformed, "AWS::ApiGateway::Stage").values()
    assert [s["Properties"]["StageName"] for s in stages] == ["v1"]
    assert sam["Globals"]["Api"]["OpenApiVersion"].startswith("3.")


def test_the_stage_throttles_every_method_with_the_parameters(sam: dict[str, Any], transformed: dict[str, Any]) -> None:
    (setting,) = _stage(transformed)["MethodSettings"]
    assert (setting["ResourcePath"], setting["HttpMethod"]) == ("/*", "*")
    assert setting["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    parameters = sam["Parameters"]
    assert 0 < parameters["ApiThrottlingRateLimit"]["Default"] <= parameters["ApiThrottlingBurstLimit"]["Default"]
    # Execution logs and data traces would log bodies: off
    assert (setting["LoggingLevel"], setting["DataTraceEnabled"]) == ("OFF", False)


def test_access_logs_are_one_json_line_per_request_without_bodies_or_keys(transformed: dict[str, Any]) -> None:
    access = _stage(transformed)["AccessLogSetting"]
    # Given the stage's access log format, every $context variable replaced by a value
    log_format: str = access["Format"]
    variables = set(re.findall(r"\$context\.[A-Za-z.]+", log_format))
    line = json.loads(re.sub(r"\$context\.[A-Za-z.]+", "v", log_format))
    # Then it is JSON naming the request, the caller, the status and the latency
    assert {"requestId", "caller", "userArn", "status", "responseLatencyMs", "path", "httpMethod"} <= set(line)
    # And it holds no body, no header and no access key or API key
    assert "$input" not in log_format and "$util" not in log_format
    assert not {v for v in variables if v.endswith((".accessKey", ".apiKey", ".apiKeyId")) or "header" in v.lower()}
    # And it goes to a log group of the stack with a retention
    log_group = access["DestinationArn"]["Fn::GetAtt"][0]
    assert transformed["Resources"][log_group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_stage_is_created_after_the_account_names_its_logging_role(transformed: dict[str, Any]) -> None:
    # A stage with access logs fails to create until the region's API Gateway account names a
    # CloudWatch Logs role; when the stack sets that role, the API (hence its stage) waits for it.
    resources = transformed["Resources"]
    (api,) = of_type(transformed, "AWS::ApiGateway::RestApi").values()
    (waits_for,) = [api["DependsOn"]] if isinstance(api["DependsOn"], str) else api["DependsOn"]
    condition, account, _ = resources[waits_for]["Metadata"]["LoggingRole"]["Fn::If"]
    assert resources[account["Ref"]]["Type"] == "AWS::ApiGateway::Account"
    assert resources[account["Ref"]]["Condition"] == condition == "CreateApiGatewayLoggingRole"
    role = resources[account["Ref"]]["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    assert resources[role]["Properties"]["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}
    ]
    (stage,) = of_type(transformed, "AWS::ApiGateway::Stage").values()
    deployment = resources[stage["Properties"]["DeploymentId"]["Ref"]]
    assert deployment["Properties"]["RestApiId"] == {"Ref": "PaymentsApi"}


def test_cors_is_off_by_default_and_allows_the_idempotency_key_when_on(transformed: dict[str, Any]) -> None:
    assert transformed["Parameters"]["CorsAllowedOrigin"]["Default"] == ""
    preflight = _rest_api(transformed)["Properties"]["Body"]["paths"]["/payments"]["options"]
    headers = preflight["x-amazon-apigateway-integration"]["responses"]["default"]["responseParameters"]
    # Allow-Origin exists only when an origin is given: without it browsers refuse every cross-origin call
    origin = {"Fn::If": ["CorsOn", {"Fn::Sub": "'${CorsAllowedOrigin}'"}, {"Ref": "AWS::NoValue"}]}
    assert headers["method.response.header.Access-Control-Allow-Origin"] == origin
    allowed = headers["method.response.header.Access-Control-Allow-Headers"].strip("'").split(",")
    assert {"Content-Type", "Idempotency-Key", "Authorization", "X-Amz-Date", "X-Amz-Security-Token"} <= set(allowed)
    # A preflight is answered without the signature it cannot carry
    assert "security" not in preflight or preflight["security"] == []
    # And the gateway's own errors carry the origin too, so a browser can read them
    for response in _gateway_responses(transformed).values():
        assert response["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == origin


def test_other_accounts_are_admitted_only_through_the_parameter(transformed: dict[str, Any]) -> None:
    assert transformed["Parameters"]["TrustedAccountIds"]["Default"] == ""
    (statement,) = _rest_api(transformed)["Properties"]["Body"]["x-amazon-apigateway-policy"]["Statement"]
    condition, trusted, otherwise = statement["Fn::If"]
    assert condition == "HasTrustedAccounts"
    assert (trusted["Effect"], trusted["Action"], trusted["Principal"]["AWS"]["Fn::Split"][0]) == (
        "Allow",
        "execute-api:Invoke",
        ",",
    )
    # Without trusted accounts the policy admits nobody: its one statement is a Deny
    assert otherwise["Effect"] == "Deny"
    assert re.fullmatch(transformed["Parameters"]["TrustedAccountIds"]["AllowedPattern"], "111111111111,222222222222")


def test_the_openapi_document_lists_the_deployed_stage_and_the_edge_statuses(sam: dict[str, Any]) -> None:
    document = openapi.document()
    (api,) = (r for r in sam["Resources"].values() if r["Type"] == "AWS::Serverless::Api")
    assert any(s["url"].endswith(".amazonaws.com/" + api["Properties"]["StageName"]) for s in document["servers"])
    assert document["security"] == [{"sigv4": []}]
    assert document["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    gateway = api["Properties"]["GatewayResponses"]
    edge = {gateway[t]["StatusCode"] for t in ("MISSING_AUTHENTICATION_TOKEN", "THROTTLED", "INTEGRATION_TIMEOUT")}
    assert edge == {"403", "429", "504"}
    for operation in (op for path in document["paths"].values() for op in path.values()):
        assert edge <= set(operation["responses"])

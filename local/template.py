"""Reads template.yaml: tables, routes and function settings, so nothing local can drift from it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
_current = TEMPLATE


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that keeps CloudFormation short-form tags (!Ref, !If...) as {'Ref': ...} dicts."""


def _intrinsic(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)  # type: ignore[no-untyped-call]


def use(path: Path) -> None:
    """Read another template from now on (`--template`, like `sam local -t`); CodeUri stays relative to ROOT."""
    global _current
    _current = path
    load.cache_clear()


@lru_cache(maxsize=1)
def load() -> dict[str, Any]:
    with _current.open() as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    return document


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in load()["Resources"].items() if res["Type"] == kind}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway form: /payments/{payment_id}
    function: str = ""  # logical id of the function the route invokes
    signed: bool = True  # behind the API's default authorizer (AWS_IAM); False: `Auth: Authorizer: NONE`


def gateway_responses() -> dict[str, dict[str, Any]]:
    """The API's GatewayResponses (SAM `AWS::Serverless::Api`), by response type; {} if it customizes none."""
    for api in resources("AWS::Serverless::Api").values():
        return dict(api.get("Properties", {}).get("GatewayResponses") or {})
    return {}


def _functions_with(event_type: str) -> list[str]:
    return [
        name
        for name, fn in resources("AWS::Serverless::Function").items()
        if any(e["Type"] == event_type for e in (fn["Properties"].get("Events") or {}).values())
    ]


def api_function_id() -> str:
    """The merchants' function: the one whose `Api` events are signed (the webhook's are not)."""
    names = [name for name in _functions_with("Api") if any(r.signed for r in _routes_of(name))]
    if len(names) != 1:
        raise ValueError(f"expected one function with signed Api events, found {names}")
    return names[0]


def api_function_ids() -> list[str]:
    """Every function API Gateway invokes (the merchants' and the webhook's)."""
    return _functions_with("Api")


def queue_function_id() -> str | None:
    """The function an SQS event source invokes (None if the template has none)."""
    names = _functions_with("SQS")
    return names[0] if names else None


def function(logical_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """A function by logical id; the API's function by default."""
    name = logical_id or api_function_id()
    return name, resources("AWS::Serverless::Function")[name]


def parameter_defaults() -> dict[str, str]:
    return {k: str(v.get("Default", "")) for k, v in load().get("Parameters", {}).items()}


# The pseudo parameters as the local stack (moto's default account) has them.
PSEUDO_PARAMETERS = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}


def _parameters(overrides: dict[str, str] | None) -> dict[str, str]:
    return {**PSEUDO_PARAMETERS, **parameter_defaults(), **(overrides or {})}


def _join(argument: list[Any], params: dict[str, str]) -> str:
    separator, parts = argument
    items = _holds(parts, params)  # a CommaDelimitedList parameter arrives as one string
    items = items.split(",") if isinstance(items, str) else [_holds(part, params) for part in items]
    return str(separator).join(str(item) for item in items)


def _holds(expression: Any, params: dict[str, str]) -> Any:
    """A condition or rule expression under `params`. Written here because neither cfn-lint nor SAM
    evaluates conditions or rules for given parameter values."""
    if not isinstance(expression, dict):
        return expression
    (name, argument), *_ = expression.items()
    if name not in _OPERATORS:
        raise ValueError(f"cannot evaluate {name} locally")
    return _OPERATORS[name](argument, params)


def condition(name: str, params: dict[str, str] | None = None) -> bool:
    """A template condition under the parameter defaults, with `params` overriding them."""
    return bool(_holds(load()["Conditions"][name], _parameters(params)))


_OPERATORS: dict[str, Callable[[Any, dict[str, str]], Any]] = {
    "Ref": lambda name, params: params[name],
    "Condition": condition,
    "Fn::Condition": condition,  # how the short form !Condition loads
    "Fn::Equals": lambda sides, params: str(_holds(sides[0], params)) == str(_holds(sides[1], params)),
    "Fn::Not": lambda operand, params: not _holds(operand[0], params),
    "Fn::And": lambda parts, params: all(_holds(part, params) for part in parts),
    "Fn::Or": lambda parts, params: any(_holds(part, params) for part in parts),
    "Fn::Join": _join,
}


def rule_violations(params: dict[str, str] | None = None) -> list[str]:
    """The AssertDescription of every template rule assertion these parameter values break (what
    CloudFormation would refuse at deploy time)."""
    values = _parameters(params)
    broken = []
    for rule in load().get("Rules", {}).values():
        if "RuleCondition" in rule and not _holds(rule["RuleCondition"], values):
            continue
        broken += [a["AssertDescription"] for a in rule["Assertions"] if not _holds(a["Assert"], values)]
    return broken


def _substitute(text: str, names: dict[str, str]) -> str | None:
    """!Sub's ${Name} placeholders filled from `names`; None if one is not known locally."""
    try:
        return re.sub(r"\$\{([^}!]+)\}", lambda m: str(names[m[1]]), text)
    except KeyError:
        return None


def _function(name: str, argument: Any, refs: dict[str, str], params: dict[str, str] | None) -> Any:
    if name == "Ref":
        if argument in refs:
            return refs[argument]
        return None if argument == "AWS::NoValue" else _parameters(params).get(argument)
    if name == "Fn::GetAtt":
        return refs.get(".".join(argument))
    if name == "Fn::If":
        chosen = argument[1] if condition(argument[0], params) else argument[2]
        return resolve(chosen, refs, params)
    if name == "Fn::Sub" and isinstance(argument, str):
        return _substitute(argument, {**_parameters(params), **refs})
    return None


def resolve(value: Any, refs: dict[str, str] | None = None, params: dict[str, str] | None = None) -> Any:
    """A property's value locally: !Ref -> `refs` (resources made locally) or the parameter's value;
    !GetAtt X.Arn -> refs['X.Arn']; !If -> the branch its condition picks under the parameters
    (defaults, overridden by `params`); !Sub of known names -> the string; other functions and
    AWS::NoValue -> None."""
    refs = refs or {}
    if isinstance(value, dict) and len(value) == 1:
        (name, argument), *_ = value.items()
        if name == "Ref" or name.startswith("Fn::"):
            return _function(name, argument, refs, params)
    if isinstance(value, dict):
        return {k: resolve(v, refs, params) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, refs, params) for v in value]
    return value


@dataclass(frozen=True)
class SqsEventSource:
    queue: str  # logical id of the AWS::SQS::Queue
    batch_size: int
    maximum_concurrency: int | None
    report_batch_item_failures: bool


def sqs_event_source(logical_id: str) -> SqsEventSource:
    """The function's SQS event with parameters at their defaults (Lambda's defaults where unset)."""
    _, fn = function(logical_id)
    event = next(e for e in fn["Properties"]["Events"].values() if e["Type"] == "SQS")
    props = event["Properties"]
    queue = props["Queue"]
    if not (isinstance(queue, dict) and "Fn::GetAtt" in queue):
        raise ValueError(f"{logical_id}: the SQS event's Queue must be !GetAtt <queue>.Arn")
    scaling = resolve(props.get("ScalingConfig") or {})
    concurrency = scaling.get("MaximumConcurrency")
    return SqsEventSource(
        queue=queue["Fn::GetAtt"][0],
        batch_size=int(resolve(props.get("BatchSize")) or 10),
        maximum_concurrency=int(concurrency) if concurrency else None,
        report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
    )


def _routes_of(name: str) -> list[Route]:
    _, fn = function(name)
    return [
        Route(
            e["Properties"]["Method"].upper(),
            e["Properties"]["Path"],
            name,
            ((e["Properties"].get("Auth") or {}).get("Authorizer") or "AWS_IAM") != "NONE",
        )
        for e in fn["Properties"].get("Events", {}).values()
        if e["Type"] == "Api"
    ]


def routes() -> list[Route]:
    """Every route of the API, whichever function serves it."""
    return [route for name in _functions_with("Api") for route in _routes_of(name)]


def policy_statements(logical_id: str) -> list[dict[str, Any]]:
    """Every statement a function's Policies may grant: a conditional policy counts as granted, and a managed
    policy of this stack (a !Ref) by its document."""
    statements: list[dict[str, Any]] = []
    for declared in function(logical_id)[1]["Properties"]["Policies"]:
        policy = declared["Fn::If"][1] if "Fn::If" in declared else declared
        if "Ref" in policy:
            policy = resources("AWS::IAM::ManagedPolicy")[policy["Ref"]]["Properties"]["PolicyDocument"]
        statements.extend(policy["Statement"])
    return statements


def function_globals() -> dict[str, Any]:
    return dict(load().get("Globals", {}).get("Function", {}))


def timeout_seconds(logical_id: str | None = None) -> int:
    _, fn = function(logical_id)
    return int(fn["Properties"].get("Timeout") or function_globals()["Timeout"])


def handler_path(logical_id: str | None = None) -> str:
    return str(function(logical_id)[1]["Properties"]["Handler"])


def code_uri(logical_id: str | None = None) -> Path:
    return ROOT / str(function(logical_id)[1]["Properties"]["CodeUri"])


def environment(
    refs: dict[str, str], logical_id: str | None = None, params: dict[str, str] | None = None
) -> dict[str, str]:
    """The function's environment (the Globals' variables, then its own) with !Ref to local resources
    (`refs`: tables, queue URLs) resolved, other !Ref and conditions taken under the parameter defaults
    (or `params`); values that resolve to nothing keep the code's defaults."""
    env: dict[str, str] = {}
    variables = {
        **function_globals().get("Environment", {}).get("Variables", {}),
        **function(logical_id)[1]["Properties"]["Environment"]["Variables"],  # SAM: the function's own win
    }
    for key, value in variables.items():
        resolved = resolve(value, refs, params)
        if resolved is not None:
            env[key] = str(resolved)
    return env

"""Reads template.yaml: tables, routes and function settings, so nothing local can drift from it."""

from __future__ import annotations

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


def gateway_responses() -> dict[str, dict[str, Any]]:
    """The API's GatewayResponses (SAM `AWS::Serverless::Api`), by response type; {} if it customizes none."""
    for api in resources("AWS::Serverless::Api").values():
        return dict(api.get("Properties", {}).get("GatewayResponses") or {})
    return {}


def function() -> tuple[str, dict[str, Any]]:
    """The API's function: the one with Api events (the reconciler has a schedule)."""
    for name, fn in resources("AWS::Serverless::Function").items():
        if any(e["Type"] == "Api" for e in fn["Properties"].get("Events", {}).values()):
            return name, fn
    raise LookupError("template.yaml has no function with Api events")


def routes() -> list[Route]:
    _, fn = function()
    return [
        Route(e["Properties"]["Method"].upper(), e["Properties"]["Path"])
        for e in fn["Properties"].get("Events", {}).values()
        if e["Type"] == "Api"
    ]


def function_globals() -> dict[str, Any]:
    return dict(load().get("Globals", {}).get("Function", {}))


def timeout_seconds() -> int:
    _, fn = function()
    return int(fn["Properties"].get("Timeout") or function_globals()["Timeout"])


def handler_path() -> str:
    return str(function()[1]["Properties"]["Handler"])


def code_uri() -> Path:
    return ROOT / str(function()[1]["Properties"]["CodeUri"])


def environment(table_names: dict[str, str]) -> dict[str, str]:
    """The function's environment with !Ref to tables resolved; other intrinsics take parameter defaults."""
    parameters = {k: str(v.get("Default", "")) for k, v in load().get("Parameters", {}).items()}
    env: dict[str, str] = {}
    for key, value in function()[1]["Properties"]["Environment"]["Variables"].items():
        if isinstance(value, dict) and "Ref" in value:
            ref = value["Ref"]
            env[key] = table_names.get(ref) or parameters[ref]
        elif isinstance(value, dict):
            continue  # conditions (tracing) keep the code's defaults locally
        else:
            env[key] = str(value)
    return env

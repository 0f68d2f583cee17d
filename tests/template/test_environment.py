"""A local run gives each function the environment SAM deploys: the Globals' variables, then the function's own."""

from __future__ import annotations

from typing import Any

from local import template
from tests.template.conftest import of_type


def test_each_function_runs_locally_with_the_variables_the_sam_transform_deploys(transformed: dict[str, Any]) -> None:
    deployed = of_type(transformed, "AWS::Lambda::Function")
    functions = template.resources("AWS::Serverless::Function")
    assert functions and set(functions) <= set(deployed)
    for name in functions:
        variables = deployed[name]["Properties"]["Environment"]["Variables"]
        local = template.environment({}, name)
        # Values that resolve to nothing locally (an empty secret ARN, say) keep the code's defaults.
        assert set(local) <= set(variables), name
        assert variables["PYDANTIC_DISABLE_PLUGINS"] == local["PYDANTIC_DISABLE_PLUGINS"] == "__all__", name


def test_a_function_of_its_own_overrides_a_global_variable(monkeypatch: Any) -> None:
    document = {
        "Globals": {"Function": {"Environment": {"Variables": {"SHARED": "global", "KEPT": "global"}}}},
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Environment": {"Variables": {"SHARED": "own"}}},
            }
        },
    }
    monkeypatch.setattr(template, "load", lambda: document)
    assert template.environment({}, "Fn") == {"SHARED": "own", "KEPT": "global"}

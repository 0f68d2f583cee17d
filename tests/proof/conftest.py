"""Fixtures of the proof suite, and its hypothesis profiles (applied only to its own state machine).

Every proof runs on both completions (tests/conftest.py: RUNS_ON_BOTH_COMPLETIONS)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.proof.rig import Rig, build_rig

RUNS_ON_BOTH_COMPLETIONS = True

# Not loaded globally: other suites (schemathesis) keep their own hypothesis settings.
# test_interleavings picks one by HYPOTHESIS_PROFILE (default "ci").
_COMMON: dict[str, Any] = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow], "print_blob": True}
settings.register_profile("ci", max_examples=40, stateful_step_count=25, **_COMMON)
settings.register_profile("long", max_examples=500, stateful_step_count=40, **_COMMON)


@pytest.fixture
def make_rig(dynamodb: Any, settings: Any, tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """A Rig around a processor of the test's choosing (the sandbox by default)."""

    def make(sandbox: Any = None, wrap_client: Callable[[Any], Any] | None = None, **setting_changes: Any) -> Rig:
        chosen = settings.model_copy(update=setting_changes)
        return build_rig(chosen, dynamodb.client, tmp_path / "ledger.jsonl", sandbox=sandbox, wrap_client=wrap_client)

    yield make


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()

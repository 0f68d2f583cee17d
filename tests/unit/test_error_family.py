"""Every error the service raises on purpose belongs to one of two families, each class under a kind
that says what a caller can do; the transports decide by that kind."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import payments_service
from payments_service.domain import errors as kinds
from payments_service.domain.errors import PaymentsError
from payments_service.idempotency.errors import IdempotencyError

SRC = Path(payments_service.__file__).parent
ENTRY_MODULES = {"api", "queue", "reconciler", "sweeper", "webhooks", "__main__"}
FAMILIES = (PaymentsError, IdempotencyError)
# Raised on purpose outside the families, each for a reason of its own:
OUTSIDE = {
    # dal/: a spent time budget must look like a botocore timeout to the SDK path; dal/errors.py sorts it
    # as transient and the boundary turns it into the caller's *Unavailable before it leaves dal/.
    "DeadlineExceeded",
    "ValueError",  # pydantic validators and settings: pydantic turns it into its ValidationError
    "TypeError",  # a programming error (a write no store knows)
    "JSONDecodeError",  # parse_json's own contract, caught by parse_body
    "NotFoundError",  # Powertools' router answer for an unknown id, mapped to 404 in handlers/problems.py
}


def _modules() -> list[ModuleType]:
    names = [m.name for m in pkgutil.walk_packages([str(SRC)], "payments_service.")]
    # The Lambda entry modules wire bootstrap at import; their classes are checked through the source below.
    return [importlib.import_module(n) for n in names if n.rsplit(".", 1)[-1] not in ENTRY_MODULES]


def _defined_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in _modules():
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = value
    return found


def _source_classes() -> dict[str, list[str]]:
    """Every class statement in src/ with the names of its bases, read from the source (no import)."""
    classes: dict[str, list[str]] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                classes[f"{path.relative_to(SRC)}:{node.name}"] = [ast.unparse(base) for base in node.bases]
    return classes


def _raised_names() -> dict[str, str]:
    """The class name of every `raise Name(...)` / `raise Name` in src/, with where it is."""
    raised: dict[str, str] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
                if name and name[0].isupper():  # a class; a lower-case name is a variable or a factory
                    raised.setdefault(name, f"{path.relative_to(SRC)}:{node.lineno}")
    return raised


def test_every_exception_class_in_src_belongs_to_a_family() -> None:
    defined = _defined_exceptions()
    assert len(defined) > 30  # the walk found the modules
    strays = [name for name, cls in defined.items() if not issubclass(cls, FAMILIES) and cls.__name__ not in OUTSIDE]
    assert strays == []


def test_no_class_in_src_derives_from_a_bare_exception() -> None:
    # Also the handler modules, which are not imported above: a new error must pick its kind.
    bare = sorted(name for name, bases in _source_classes().items() if {"Exception", "BaseException"} & set(bases))
    assert bare == ["domain/errors.py:PaymentsError", "idempotency/errors.py:IdempotencyError"]


def test_every_raise_in_src_raises_a_family_member() -> None:
    family = {cls.__name__ for cls in _defined_exceptions().values() if issubclass(cls, FAMILIES)}
    family.add("RetryLater")  # handlers/queue.py, an entry module: its base is checked from the source above
    strays = {name: where for name, where in _raised_names().items() if name not in family | OUTSIDE}
    assert strays == {}


def test_every_family_member_under_payments_has_a_kind_or_says_it_is_a_signal() -> None:
    kind_classes = (kinds.Transient, kinds.Invalid, kinds.Refused, kinds.Conflict, kinds.Misconfigured)
    for name, cls in _defined_exceptions().items():
        if issubclass(cls, PaymentsError) and cls is not PaymentsError and cls not in kind_classes:
            assert issubclass(cls, kind_classes) or "signal" in (cls.__doc__ or ""), name
        if issubclass(cls, FAMILIES):
            assert cls.__doc__ and cls.__doc__ != cls.__base__.__doc__, f"{name} says nothing of itself"


def _instance(cls: type[BaseException], **attributes: Any) -> BaseException:
    error = cls.__new__(cls)
    defaults = {"retry_after_seconds": 1, "code": "x", "param": "x", "remaining": 1, "errors": [], "current": None}
    defaults |= {"slug": "malformed-body", "status": 400, "detail": "x", "malformed": False, "write": None}
    error.__dict__.update(defaults | attributes)
    return error


@pytest.mark.parametrize("slug_status", [("malformed-body", 400), ("payload-too-large", 413)])
def test_the_queue_parks_exactly_what_the_status_rule_parked_for_every_answered_error(
    slug_status: tuple[str, int],
) -> None:
    """The queue used to read the HTTP problem: a 4xx other than "in use" was parked. Deciding by type keeps
    every answer it gave for each error the HTTP map answers (the errors a use case lets reach a transport)."""
    from payments_service.handlers import problems
    from payments_service.handlers.queue_actions import QueueAction, queue_action

    slug, status = slug_status
    answered = [cls for cls in problems._problems() if issubclass(cls, FAMILIES)]
    assert len(answered) >= 20
    for cls in answered:
        error = _instance(cls, slug=slug, status=status)
        problem = problems.problem_for(error)
        parked_before = 400 <= problem.status < 500 and problem.slug != "idempotency-key-in-use"
        assert (queue_action(error) is QueueAction.PARK) == parked_before, cls


def test_the_queue_decides_by_kind_not_by_the_http_answer() -> None:
    """An error of a kind the HTTP map does not name (so it renders as a 500) is still parked when final."""
    from payments_service.handlers.problems import problem_for
    from payments_service.handlers.queue_actions import QueueAction, queue_action

    class NewRefusal(kinds.Refused):
        """A refusal added later, not yet in the HTTP map."""

    class NewBusy(kinds.Busy):
        """Work still running, not yet in the HTTP map."""

    assert problem_for(NewRefusal()).status == 500
    assert queue_action(NewRefusal()) is QueueAction.PARK
    assert queue_action(NewBusy()) is QueueAction.RETRY
    assert queue_action(kinds.Conflict()) is QueueAction.PARK  # someone must look: retrying changes nothing
    assert queue_action(RuntimeError()) is QueueAction.RETRY  # a bug: SQS's maxReceiveCount bounds it

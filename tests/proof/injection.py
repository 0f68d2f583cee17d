"""Failure injection at the boundaries of a payment, through the collaborators `dependencies.build` accepts.

Nothing in src/ is patched: the DynamoDB client and the processor are wrapped, so the code under
test runs unchanged and dies exactly where a real invocation could die.
"""

from __future__ import annotations

import enum
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from payments_service.domain.processor import Charge, ProcessorRefund, ProcessorUnavailable


class Boundary(enum.StrEnum):
    AFTER_CLAIM = "after_claim"  # the key is ours in DynamoDB (claim or takeover applied)
    AFTER_CHARGE = "after_charge"  # the processor charged
    BEFORE_COMMIT = "before_commit"  # the payment + response transaction (or decision) is about to be sent
    # Sequential completion only: the decision is on the key (COMPLETING), no business write applied yet.
    MID_COMMIT = "mid_commit"
    AFTER_A_WRITE = "after_a_write"  # sequential only: the first business write applied, the key still COMPLETING
    AFTER_COMMIT = "after_commit"  # the transaction (or the last write) applied; its answer has not reached the caller


class RefundBoundary(enum.StrEnum):
    """Where a refund can die besides BEFORE_COMMIT / AFTER_COMMIT (its settlement is that commit)."""

    AFTER_RESERVE = "after_reserve"  # the payment's balance holds the reservation
    AFTER_REFUND = "after_refund"  # the processor refunded


class Kind(enum.StrEnum):
    CRASH = "crash"  # an unexpected exception (a bug, the runtime giving up)
    TRANSIENT = "transient"  # what the SDK raises when a response is lost: the effect is unknown


class InjectedCrash(Exception):
    """Raised where an invocation dies in-process."""


def transient_error(boundary: Boundary) -> Exception:
    """The exception a lost round trip produces at `boundary` (classified transient by the service)."""
    if boundary is Boundary.AFTER_CHARGE:
        return ProcessorUnavailable("injected: processor answer lost")
    lost: Exception
    if boundary is Boundary.BEFORE_COMMIT:
        lost = EndpointConnectionError(endpoint_url="http://127.0.0.1")  # never sent
    else:
        lost = ReadTimeoutError(endpoint_url="http://127.0.0.1")  # sent and applied, answer lost
    return lost


class CrashPlan:
    """One armed failure: fires on the next pass through its boundary, then disarms (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: tuple[Boundary | RefundBoundary, Callable[[], None]] | None = None
        self.fired: list[Boundary | RefundBoundary] = []

    def arm(self, boundary: Boundary | RefundBoundary, fail: Callable[[], None]) -> None:
        with self._lock:
            self._armed = (boundary, fail)

    def arm_exception(self, boundary: Boundary, kind: Kind = Kind.CRASH) -> None:
        def fail() -> None:
            if kind is Kind.CRASH:
                raise InjectedCrash(f"injected crash {boundary}")
            raise transient_error(boundary)

        self.arm(boundary, fail)

    def disarm(self) -> None:
        with self._lock:
            self._armed = None

    def reached(self, boundary: Boundary | RefundBoundary) -> None:
        with self._lock:
            if self._armed is None or self._armed[0] is not boundary:
                return
            fail = self._armed[1]
            self._armed = None
            self.fired.append(boundary)
        fail()


def is_takeover(kwargs: dict[str, Any]) -> bool:
    # The DAL's takeover is the only UpdateItem that sets a lease; release and decline-completion do not.
    return "#lease = :lease" in str(kwargs.get("UpdateExpression", ""))


def is_reservation(kwargs: dict[str, Any]) -> bool:
    # Only a refund's reservation writes a reservation entry (:entry, or :reservations on a legacy item).
    values = kwargs.get("ExpressionAttributeValues") or {}
    return ":entry" in values or ":reservations" in values


def is_completion(kwargs: dict[str, Any]) -> bool:
    # The DAL marks a key COMPLETED with :completed: a response without business writes, or the last step
    # of a sequential completion (conditioned on :completing).
    return ":completed" in (kwargs.get("ExpressionAttributeValues") or {})


def is_decision(kwargs: dict[str, Any]) -> bool:
    # A sequential completion's first step: the key becomes COMPLETING with the writes to apply (:writes).
    return ":writes" in (kwargs.get("ExpressionAttributeValues") or {})


def is_business_write(kwargs: dict[str, Any]) -> bool:
    # A sequential completion's business writes carry the key's mark (dal/sequential_completion.py).
    return "applied_by" in (kwargs.get("Item") or {}) or ":applied_by" in (
        kwargs.get("ExpressionAttributeValues") or {}
    )


def ends_a_sequence(kwargs: dict[str, Any]) -> bool:
    return is_completion(kwargs) and ":completing" in (kwargs.get("ExpressionAttributeValues") or {})


class CrashingClient:
    """A boto3 DynamoDB client that reports claims and commits to a CrashPlan around the real calls."""

    def __init__(self, inner: Any, plan: CrashPlan) -> None:
        self._inner = inner
        self._plan = plan

    def put_item(self, **kwargs: Any) -> Any:
        result = self._inner.put_item(**kwargs)  # raises on a conditional failure: no claim, no crash
        self._plan.reached(Boundary.AFTER_A_WRITE if is_business_write(kwargs) else Boundary.AFTER_CLAIM)
        return result

    def update_item(self, **kwargs: Any) -> Any:
        completes = is_completion(kwargs)  # a response without business writes is committed by one UpdateItem
        if is_decision(kwargs) or (completes and not ends_a_sequence(kwargs)):
            self._plan.reached(Boundary.BEFORE_COMMIT)
        result = self._inner.update_item(**kwargs)
        if is_takeover(kwargs):
            self._plan.reached(Boundary.AFTER_CLAIM)
        if is_reservation(kwargs):
            self._plan.reached(RefundBoundary.AFTER_RESERVE)
        if is_decision(kwargs):
            self._plan.reached(Boundary.MID_COMMIT)
        if is_business_write(kwargs):
            self._plan.reached(Boundary.AFTER_A_WRITE)
        if completes:
            self._plan.reached(Boundary.AFTER_COMMIT)
        return result

    def transact_write_items(self, **kwargs: Any) -> Any:
        self._plan.reached(Boundary.BEFORE_COMMIT)
        result = self._inner.transact_write_items(**kwargs)
        self._plan.reached(Boundary.AFTER_COMMIT)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class CrashingProcessor:
    """A processor that reports every successful charge to a CrashPlan."""

    def __getattr__(self, name: str) -> Any:  # the rest of the port, as the wrapped processor has it
        return getattr(self.__dict__["_inner"], name)

    def __init__(self, inner: Any, plan: CrashPlan) -> None:
        self._inner = inner
        self._plan = plan

    def charge(self, *, reference: str, amount: int, currency: str, source: str, **more: Any) -> Charge:
        charge: Charge = self._inner.charge(
            reference=reference, amount=amount, currency=currency, source=source, **more
        )
        self._plan.reached(Boundary.AFTER_CHARGE)
        return charge

    def refund(self, *, reference: str, charge_id: str, amount: int, currency: str, **more: Any) -> ProcessorRefund:
        made: ProcessorRefund = self._inner.refund(
            reference=reference, charge_id=charge_id, amount=amount, currency=currency, **more
        )
        self._plan.reached(RefundBoundary.AFTER_REFUND)
        return made


class Ledger:
    """Every charge the processor made, from any process: (reference, charge id) appended to a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, reference: str, charge_id: str) -> None:
        line = json.dumps({"reference": reference, "charge": charge_id}) + "\n"
        with self._lock, self.path.open("a") as handle:  # closed at once: survives an os._exit right after
            handle.write(line)

    def entries(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]

    def references(self) -> set[str]:
        return {e["reference"] for e in self.entries()}

    def charge_ids(self) -> set[str]:
        return {e["charge"] for e in self.entries()}


class LedgerProcessor:
    """Records each successful charge in a Ledger (and each refund in another), then returns it."""

    def __getattr__(self, name: str) -> Any:  # the rest of the port, as the wrapped processor has it
        return getattr(self.__dict__["_inner"], name)

    def __init__(self, inner: Any, ledger: Ledger, refunds: Ledger | None = None) -> None:
        self._inner = inner
        self._ledger = ledger
        self._refunds = refunds

    def refund(self, *, reference: str, charge_id: str, amount: int, currency: str, **more: Any) -> ProcessorRefund:
        made: ProcessorRefund = self._inner.refund(
            reference=reference, charge_id=charge_id, amount=amount, currency=currency, **more
        )
        if self._refunds is not None:
            self._refunds.record(reference, f"{charge_id}:{amount}:{made.id}")
        return made

    def charge(self, *, reference: str, amount: int, currency: str, source: str, **more: Any) -> Charge:
        charge: Charge = self._inner.charge(
            reference=reference, amount=amount, currency=currency, source=source, **more
        )
        self._ledger.record(reference, charge.id)
        return charge


class Gate:
    def __init__(self) -> None:
        self.entered = threading.Event()  # the charge call has arrived and is held
        self.resume = threading.Event()  # the test lets it go on


class GatedProcessor:
    """Holds the first len(gates) charges, each at its own gate: invocations that stall (past their lease).

    `then_raise[i]` makes the i-th call raise after the real charge, when released.
    """

    def __getattr__(self, name: str) -> Any:  # the rest of the port, as the wrapped processor has it
        return getattr(self.__dict__["_inner"], name)

    def __init__(self, inner: Any, gates: int, then_raise: dict[int, Exception] | None = None) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._calls = 0
        self.gates = [Gate() for _ in range(gates)]
        self._then_raise = then_raise or {}

    def charge(self, *, reference: str, amount: int, currency: str, source: str, **more: Any) -> Charge:
        with self._lock:
            index, self._calls = self._calls, self._calls + 1
        if index < len(self.gates):
            gate = self.gates[index]
            gate.entered.set()
            if not gate.resume.wait(30):
                raise TimeoutError("the test never resumed a held charge")
        charge: Charge = self._inner.charge(
            reference=reference, amount=amount, currency=currency, source=source, **more
        )
        if index in self._then_raise:
            raise self._then_raise[index]
        return charge


class SdkRetriesAfterLostAnswer:
    """A boto3 client whose next `operation` call applies, loses its answer, and is sent again by the SDK.

    That is botocore's own retry after a read timeout: the identical request a second time, whose
    answer (often a ConditionalCheckFailed against our own write) is what the caller sees.
    """

    def __init__(self, inner: Any, operation: str, when: Callable[[dict[str, Any]], bool] = lambda _: True) -> None:
        self._inner = inner
        self._operation = operation
        self._when = when
        self.echoed = 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._inner, name)
        if name != self._operation:
            return real

        def twice(**kwargs: Any) -> Any:
            if self.echoed or not self._when(kwargs):
                return real(**kwargs)
            self.echoed += 1
            real(**kwargs)  # applied; the answer never arrives
            return real(**kwargs)

        return twice

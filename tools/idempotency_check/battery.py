"""What every check shares: the outcome it fills, request helpers, barrier-started concurrency, problem rules."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from .client import Client, Prepared, Response, TransportError, Unreachable

PROBLEM_JSON = "application/problem+json"
PROBLEM_FIELDS = {"type": str, "title": str, "status": int, "detail": str}


class Progress(Protocol):
    def stage(self, title: str) -> None: ...

    def advance(self) -> None: ...


class NoProgress:
    def stage(self, title: str) -> None:
        pass

    def advance(self) -> None:
        pass


@dataclass
class Outcome:
    name: str
    title: str
    violations: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)  # "201", "201 replayed", "409", "error"...
    payment_ids: list[str] = field(default_factory=list)  # distinct, in order of first sight
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations

    def fail(self, violation: str) -> None:
        if violation not in self.violations:
            self.violations.append(violation)

    def observe(self, answer: Response | TransportError) -> Response | None:
        if isinstance(answer, TransportError):
            self.statuses["error"] += 1
            self.fail(f"no HTTP answer: {answer}")
            return None
        self.statuses[f"{answer.status} replayed" if answer.replayed else str(answer.status)] += 1
        if answer.status >= 500:
            self.fail(f"server error {answer.status} on {answer.method} {answer.path}")
        found = answer.payment_id() if answer.status in (200, 201) else None
        if found and found not in self.payment_ids:
            self.payment_ids.append(found)
        return answer


@dataclass(frozen=True)
class Sources:
    """The payment-method tokens the checks send: the sandbox's by default, Stripe test methods for a Stripe stage."""

    succeeds: str = "tok_visa"
    slow: str = "tok_slow"  # succeeds slowly enough that a concurrent duplicate arrives mid-flight
    declined: str = "tok_chargeDeclined"


SOURCE_PRESETS = {
    "sandbox": Sources(),
    # Stripe test mode has no slow method: pm_card_visa's own latency has to make the in-flight overlap.
    "stripe": Sources("pm_card_visa", "pm_card_visa", "pm_card_chargeDeclined"),
    # The Stripe test double in tests/stripe_double has one (pm_card_slow).
    "stripe-double": Sources("pm_card_visa", "pm_card_slow", "pm_card_chargeDeclined"),
}


@dataclass
class Battery:
    client: Client
    concurrency: int = 16
    replays: int = 3
    sources: Sources = field(default_factory=Sources)
    progress: Progress = field(default_factory=NoProgress)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def new_key(self) -> str:
        return f"idempotency-check-{uuid.uuid4()}"  # fresh per check: repeated runs never collide

    def payment(self, source: str | None = None, amount: int | None = None) -> dict[str, Any]:
        return {
            "amount": amount if amount is not None else random.randint(100, 99_999),
            "currency": "USD",
            "source": source or self.sources.succeeds,
            "description": "idempotency-check",
            "metadata": {"run": self.run_id},
        }

    def post(self, outcome: Outcome, key: str | None, body: Any) -> Response | None:
        headers = {"Idempotency-Key": key} if key is not None else {}
        return outcome.observe(self._one(lambda: self.client.request("POST", "/payments", body, headers)))

    def post_to(self, outcome: Outcome, path: str, key: str, body: Any) -> Response | None:
        headers = {"Idempotency-Key": key}
        return outcome.observe(self._one(lambda: self.client.request("POST", path, body, headers)))

    def get(self, outcome: Outcome, path: str) -> Response | None:
        return outcome.observe(self._one(lambda: self.client.request("GET", path)))

    def together(self, outcome: Outcome, requests: list[Prepared]) -> list[Response | None]:
        """Send all at once: every thread connects first, then a barrier releases them together."""
        barrier = threading.Barrier(len(requests), timeout=self.client.timeout)

        def fire(request: Prepared) -> Response | TransportError:
            try:
                connection = self.client.connect()
            except TransportError as error:
                barrier.abort()  # the others must not wait for a request that will never start
                self.progress.advance()
                return error
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                connection.close()
                return TransportError("another duplicate could not connect, so the burst was not sent")
            else:
                return self.client.send(connection, request)
            finally:
                self.progress.advance()

        def fire_safely(request: Prepared) -> Response | TransportError:
            try:
                return fire(request)
            except TransportError as error:
                return error

        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            answers = list(pool.map(fire_safely, requests))
        for answer in answers:
            if isinstance(answer, Unreachable):
                raise answer
        return [outcome.observe(answer) for answer in answers]

    def _one(self, call: Callable[[], Response]) -> Response | TransportError:
        try:
            return call()
        except Unreachable:
            raise
        except TransportError as error:
            return error
        finally:
            self.progress.advance()


def problem_issues(response: Response) -> list[str]:
    """Why this error answer is not an RFC 9457 problem with type, title, status, detail ([] when it is)."""
    issues = []
    content_type = (response.header("Content-Type") or "").split(";")[0].strip().lower()
    if content_type != PROBLEM_JSON:
        issues.append(f"Content-Type is {content_type or 'missing'}, not {PROBLEM_JSON}")
    document = response.json()
    if not isinstance(document, dict):
        return [*issues, "body is not a JSON object"]
    for name, kind in PROBLEM_FIELDS.items():
        if not isinstance(document.get(name), kind):
            issues.append(f"member {name!r} missing or not a {kind.__name__}")
    if isinstance(document.get("status"), int) and document["status"] != response.status:
        issues.append(f"member status {document['status']} differs from the HTTP status {response.status}")
    return issues


def expect_problem(outcome: Outcome, response: Response, status: int, what: str) -> bool:
    """Record a violation unless `response` is a `status` problem+json; True when it is."""
    if response.status != status:
        outcome.fail(f"{what}: expected {status}, got {response.status}")
        return False
    issues = problem_issues(response)
    for issue in issues:
        outcome.fail(f"{what}: {issue}")
    return not issues


def expect_replay(outcome: Outcome, original: Response, replay: Response, what: str) -> None:
    """A replay: the original's status, its exact bytes, and Idempotent-Replayed: true."""
    if replay.status != original.status:
        outcome.fail(f"{what}: status {replay.status}, the original was {original.status}")
    elif replay.body != original.body:
        outcome.fail(f"{what}: body differs from the original's bytes")
    if not replay.replayed:
        outcome.fail(f"{what}: no 'Idempotent-Replayed: true' header")


def retry_after_issue(response: Response) -> str | None:
    value = (response.header("Retry-After") or "").strip()
    if not value:
        return f"{response.status} without Retry-After"
    if value.isdigit():
        return None
    try:
        parsedate_to_datetime(value)  # the other form RFC 9110 allows: an HTTP-date
    except (TypeError, ValueError):
        return f"{response.status} with Retry-After {value!r}: neither seconds nor an HTTP-date"
    return None

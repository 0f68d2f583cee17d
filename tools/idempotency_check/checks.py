"""The battery: each check uses fresh keys and records evidence plus every violation it sees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .battery import Battery, Outcome, expect_problem, expect_replay, problem_issues, retry_after_issue
from .client import Response
from .refund_checks import over_refund, racing_refunds, refund_duplicates


@dataclass(frozen=True)
class Check:
    name: str
    title: str  # may name {concurrency} and {replays}
    steps: Callable[[Battery], int]  # requests it sends, for the progress bar
    run: Callable[[Battery, Outcome], None]


def concurrent_duplicates(b: Battery, o: Outcome) -> None:
    key, body = b.new_key(), b.payment()
    burst = [b.client.prepare("POST", "/payments", body, {"Idempotency-Key": key}) for _ in range(b.concurrency)]
    answers = [a for a in b.together(o, burst) if a is not None]
    created = [a for a in answers if a.status == 201]
    for answer in answers:
        if answer.status not in (201, 409) and answer.status < 500:  # 5xx already recorded by observe
            o.fail(f"unexpected status {answer.status} for a duplicate")
    if not created:
        o.fail("no duplicate got 201: nothing was created")
        return
    ids = {a.payment_id() for a in created}
    if len(ids) > 1:
        o.fail(f"double charge: {len(ids)} distinct payment ids among {len(created)} 201 answers to one key")
    originals = [a for a in created if not a.replayed]
    if len(originals) != 1:
        o.fail(f"{len(originals)} 201 answers without 'Idempotent-Replayed: true'; exactly one original expected")
    original = (originals or created)[0]
    differing = sum(a.body != original.body for a in created)
    if differing:
        o.fail(f"{differing} of {len(created)} 201 bodies differ from the original's bytes")
    for answer in answers:
        if answer.status == 409:
            issue = retry_after_issue(answer)
            if issue:
                o.fail(issue)
            expect_problem(o, answer, 409, "in-progress duplicate")
    o.notes.append("then 1 sequential retry of the same key")
    follow_up = b.post(o, key, body)
    if follow_up is not None:
        expect_replay(o, original, follow_up, "retry after the burst")


def replays(b: Battery, o: Outcome) -> None:
    key, body = b.new_key(), b.payment()
    original = b.post(o, key, body)
    if original is None:
        return
    if original.status != 201:
        o.fail(f"first request: expected 201, got {original.status}")
        return
    if original.replayed:
        o.fail("first request of a new key claims to be a replay")
    for attempt in range(1, b.replays + 1):
        again = b.post(o, key, body)
        if again is not None:
            expect_replay(o, original, again, f"repeat {attempt}")


def mismatch(b: Battery, o: Outcome) -> None:
    key, body = b.new_key(), b.payment()
    original = b.post(o, key, body)
    if original is None or original.status != 201:
        o.fail(f"first request: expected 201, got {original.status if original else 'no answer'}")
        return
    changed = b.post(o, key, {**body, "amount": body["amount"] + 1})
    if changed is not None:
        expect_problem(o, changed, 422, "same key, different body")
    again = b.post(o, key, body)  # the rejected body must not have replaced the stored answer
    if again is not None:
        expect_replay(o, original, again, "original body after the mismatch")


def in_flight(b: Battery, o: Outcome) -> None:
    key, body = b.new_key(), b.payment(source=b.sources.slow)
    pair = [b.client.prepare("POST", "/payments", body, {"Idempotency-Key": key}) for _ in range(2)]
    answers = [a for a in b.together(o, pair) if a is not None]
    statuses = sorted(a.status for a in answers)
    created = [a for a in answers if a.status == 201]
    if len({a.payment_id() for a in created}) > 1:
        o.fail(f"double charge: both concurrent requests were charged ({len(created)} distinct payment ids)")
    if statuses != [201, 409]:
        o.fail(f"expected one 201 and one 409 while the first is in flight, got {statuses}")
    for answer in answers:
        if answer.status == 409:
            issue = retry_after_issue(answer)
            if issue:
                o.fail(issue)
            expect_problem(o, answer, 409, "concurrent request")
    if created:
        retry = b.post(o, key, body)  # both answered, so the first has completed
        if retry is not None:
            expect_replay(o, created[0], retry, "retry after completion")


def decline(b: Battery, o: Outcome) -> None:
    key, body = b.new_key(), b.payment(source=b.sources.declined)
    first = b.post(o, key, body)
    if first is None or not expect_problem(o, first, 402, "declined card"):
        return
    document = first.json()
    if not isinstance(document.get("decline_code"), str) or not document["decline_code"]:
        o.fail("402 problem without a decline_code")
    else:
        o.notes.append(f"decline_code {document['decline_code']}")
    if first.replayed:
        o.fail("first request of a new key claims to be a replay")
    retry = b.post(o, key, body)
    if retry is not None:
        expect_replay(o, first, retry, "retry of the decline")


def missing_key(b: Battery, o: Outcome) -> None:
    answer = b.post(o, None, b.payment())
    if answer is not None:
        expect_problem(o, answer, 400, "POST without Idempotency-Key")


def get_payment(b: Battery, o: Outcome) -> None:
    created = b.post(o, b.new_key(), b.payment())
    if created is None or created.status != 201 or not created.payment_id():
        o.fail(f"create: expected 201 with an id, got {created.status if created else 'no answer'}")
        return
    fetched = b.get(o, f"/payments/{created.payment_id()}")
    if fetched is None:
        return
    if fetched.status != 200:
        o.fail(f"GET of the created payment: expected 200, got {fetched.status}")
    elif fetched.payment_id() != created.payment_id():
        o.fail(f"GET returned id {fetched.payment_id()!r}, created {created.payment_id()!r}")


def problem_shapes(b: Battery, o: Outcome) -> None:
    """Every error answer of the whole run, audited last."""
    errors: list[Response] = [r for r in b.client.seen if r.status >= 400]
    for response in errors:
        o.statuses[str(response.status)] += 1
        for issue in problem_issues(response):
            o.fail(f"{response.method} {response.path} -> {response.status}: {issue}")
    o.notes.append(f"{len(errors)} error answers audited")
    b.progress.advance()


CHECKS = [
    Check(
        "concurrent-duplicates",
        "{concurrency} concurrent duplicates of a new key: one charge",
        lambda b: b.concurrency + 1,
        concurrent_duplicates,
    ),
    Check("replays", "{replays} sequential replays: same status, same bytes", lambda b: b.replays + 1, replays),
    Check("mismatch", "same key, different body: 422", lambda b: 3, mismatch),
    Check("in-flight-conflict", "slow first request: 409 + Retry-After, then replay", lambda b: 3, in_flight),
    Check("decline-replay", "declined card: 402 with decline_code, replayed", lambda b: 2, decline),
    Check("missing-key", "no Idempotency-Key: 400", lambda b: 1, missing_key),
    Check("get-payment", "GET of the created payment: 200, same id", lambda b: 2, get_payment),
    Check(
        "refund-duplicates",
        "{concurrency} concurrent duplicates of a refund: one refund",
        lambda b: b.concurrency + 3,
        refund_duplicates,
    ),
    Check(
        "racing-refunds",
        "{concurrency} racing refunds for twice the payment: exactly half fit",
        lambda b: b.concurrency + 1,
        racing_refunds,
    ),
    Check("over-refund", "refund beyond what remains: 409 with the remaining amount", lambda b: 4, over_refund),
    Check("problem-json", "every error is problem+json (type, title, status, detail)", lambda b: 1, problem_shapes),
]


def run(b: Battery, checks: list[Check] = CHECKS) -> list[Outcome]:
    outcomes = []
    for check in checks:
        title = check.title.format(concurrency=b.concurrency, replays=b.replays)
        b.progress.stage(title)
        outcome = Outcome(check.name, title)
        check.run(b, outcome)
        outcomes.append(outcome)
    return outcomes

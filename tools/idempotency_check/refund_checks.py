"""The refunds battery: duplicates of one refund refund once, racing refunds never exceed the payment,
and a refund larger than what remains is refused with what remains, reserving nothing."""

from __future__ import annotations

from .battery import Battery, Outcome, expect_problem, expect_replay
from .client import Response

EXCEEDS = "refund-exceeds-payment"


def _paid(b: Battery, o: Outcome, amount: int) -> str | None:
    created = b.post(o, b.new_key(), b.payment(amount=amount))
    if created is None or created.status != 201 or not created.payment_id():
        o.fail(f"creating the payment to refund: expected 201, got {created.status if created else 'no answer'}")
        return None
    return created.payment_id()


def _amount(answer: Response) -> int | None:
    document = answer.json()
    found = document.get("amount") if isinstance(document, dict) else None
    return found if isinstance(found, int) else None


def _expect_exceeds(o: Outcome, answer: Response, remaining: int | None, what: str) -> None:
    if not expect_problem(o, answer, 409, what):
        return
    document = answer.json()
    if not str(document.get("type", "")).endswith(EXCEEDS):
        o.fail(f"{what}: problem type {document.get('type')!r}, not …{EXCEEDS}")
    elif remaining is not None and document.get("remaining_amount") != remaining:
        o.fail(f"{what}: remaining_amount {document.get('remaining_amount')!r}, expected {remaining}")


def refund_duplicates(b: Battery, o: Outcome) -> None:
    payment = _paid(b, o, 1000)
    if payment is None:
        return
    path, key, body = f"/payments/{payment}/refunds", b.new_key(), {"amount": 300}
    burst = [b.client.prepare("POST", path, body, {"Idempotency-Key": key}) for _ in range(b.concurrency)]
    answers = [a for a in b.together(o, burst) if a is not None]
    created = [a for a in answers if a.status == 201]
    for answer in answers:
        if answer.status == 409:
            expect_problem(o, answer, 409, "in-progress duplicate refund")
        elif answer.status != 201 and answer.status < 500:
            o.fail(f"unexpected status {answer.status} for a duplicate refund")
    originals = [a for a in created if not a.replayed]
    if len(originals) != 1:
        o.fail(f"{len(originals)} refunds made for one key; exactly one original expected")
    if not created:
        return
    if len({a.body for a in created}) > 1:
        o.fail("duplicate refunds answered with different bytes")
    follow_up = b.post_to(o, path, key, body)
    if follow_up is not None:
        expect_replay(o, created[0], follow_up, "retry of the refund after the burst")
    # What remains proves how much the burst took: all of it must now be 700.
    rest = b.post_to(o, path, b.new_key(), {})
    if rest is not None and (rest.status != 201 or _amount(rest) != 700):
        o.fail(f"refund of all that remains: expected 201 of 700, got {rest.status} of {_amount(rest)}")
    else:
        o.notes.append("then the rest: 700 refunded, so the burst refunded 300 once")


def racing_refunds(b: Battery, o: Outcome) -> None:
    racers = b.concurrency
    amount = 100 * racers
    payment = _paid(b, o, amount)
    if payment is None:
        return
    path = f"/payments/{payment}/refunds"
    burst = [b.client.prepare("POST", path, {"amount": 200}, {"Idempotency-Key": b.new_key()}) for _ in range(racers)]
    answers = [a for a in b.together(o, burst) if a is not None]
    refunded = sum(_amount(a) or 0 for a in answers if a.status == 201)
    winners = sum(a.status == 201 for a in answers)
    o.notes.append(f"{winners} of {racers} refunds of 200 on a payment of {amount}: {refunded} refunded")
    if refunded > amount:
        o.fail(f"over-refund: {refunded} refunded on a payment of {amount}")
    elif winners != racers // 2:
        o.fail(f"{winners} refunds of 200 succeeded on {amount}; exactly {racers // 2} fit")
    for answer in answers:
        if answer.status == 409:
            _expect_exceeds(o, answer, amount - 200 * (racers // 2), "refund beyond the payment")
        elif answer.status != 201 and answer.status < 500:
            o.fail(f"unexpected status {answer.status} for a racing refund")


def over_refund(b: Battery, o: Outcome) -> None:
    payment = _paid(b, o, 1000)
    if payment is None:
        return
    path = f"/payments/{payment}/refunds"
    part = b.post_to(o, path, b.new_key(), {"amount": 400})
    if part is None or part.status != 201:
        o.fail(f"refund of 400 on 1000: expected 201, got {part.status if part else 'no answer'}")
        return
    too_much = b.post_to(o, path, b.new_key(), {"amount": 601})
    if too_much is not None:
        _expect_exceeds(o, too_much, 600, "refund of 601 when 600 remains")
    rest = b.post_to(o, path, b.new_key(), {"amount": 600})  # the refused one must have reserved nothing
    if rest is not None and rest.status != 201:
        o.fail(f"refund of the 600 that remains after a refused one: expected 201, got {rest.status}")

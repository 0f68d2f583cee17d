"""The checker's evidence names ids by what they are: a refund check's ids are not 'payment ids'."""

from tools.idempotency_check.battery import Outcome
from tools.idempotency_check.report import evidence, id_kind


def test_ids_are_labelled_by_their_prefix() -> None:
    assert id_kind(["pay_a", "pay_b"]) == "payment ids"
    assert id_kind(["re_a", "re_b"]) == "refund ids"
    assert id_kind(["pay_a", "re_b"]) == "ids"
    assert id_kind(["ch_a"]) == "ids"


def test_a_refund_checks_evidence_says_refund_ids() -> None:
    outcome = Outcome("refund-burst", "one refund per key", payment_ids=["re_1", "re_2"])
    assert "distinct refund ids: 2 (re_1, re_2)" in evidence(outcome)
    assert "payment ids" not in evidence(outcome)

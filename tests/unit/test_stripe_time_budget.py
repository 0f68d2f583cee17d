"""How the Stripe adapter fits the SDK's attempts and backoff into the time the Lambda has left."""

from __future__ import annotations

import pytest

from payments_service.processors.stripe import MIN_ATTEMPT_S, attempt_plan, retry_sleeps_s


def test_without_a_budget_the_configured_retries_and_timeout_apply() -> None:
    assert attempt_plan(None, 2, 8.0) == (2, 8.0)


def test_a_lambdas_budget_keeps_every_retry_with_shorter_attempts() -> None:
    retries, per_attempt = attempt_plan(17.5, 2, 8.0) or (None, None)
    assert retries == 2 and per_attempt == pytest.approx((17.5 - retry_sleeps_s(2)) / 3)


def test_retries_are_given_up_before_an_attempt_is_cut_under_a_second() -> None:
    assert attempt_plan(2.0, 2, 8.0) == (0, 2.0)


def test_no_attempt_fits_in_too_little_time() -> None:
    assert attempt_plan(MIN_ATTEMPT_S - 0.01, 2, 8.0) is None
    assert attempt_plan(-3.0, 2, 8.0) is None


@pytest.mark.parametrize("budget", [1.0, 1.7, 2.5, 3.3, 5.0, 9.9, 18.0, 60.0])
def test_the_worst_case_of_every_plan_fits_its_budget(budget: float) -> None:
    plan = attempt_plan(budget, 3, 8.0)
    assert plan is not None
    retries, per_attempt = plan
    assert (retries + 1) * per_attempt + retry_sleeps_s(retries) <= budget + 1e-9
    assert per_attempt >= MIN_ATTEMPT_S

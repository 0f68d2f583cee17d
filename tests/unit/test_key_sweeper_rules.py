"""The key sweeper's fixed points: its cursor's id is never a key's, one rule says what may go, its bounds."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from payments_service.dal.deadline import REFUSED_UNDER_MS
from payments_service.dal.expired_keys import _DELETABLE, _STATUSES, CURSOR_ID
from payments_service.idempotency.expiry import DELETABLE_WHEN_EXPIRED, may_delete
from payments_service.idempotency.keys import record_id
from payments_service.idempotency.records import Status
from payments_service.logic.sweep_expired_keys import STOP_BEFORE_END_MS
from payments_service.models.settings import Settings

KEY_ID = re.compile(r"[0-9a-f]{64}")
TABLES = {"IDEMPOTENCY_TABLE_NAME": "keys", "PAYMENTS_TABLE_NAME": "payments", "REFUNDS_TABLE_NAME": "refunds"}


@given(scope=st.text(), key=st.text(min_size=1, max_size=255))
def test_every_key_id_is_a_hex_digest_and_never_the_cursors_id(scope: str, key: str) -> None:
    rid = record_id(scope, key)
    assert KEY_ID.fullmatch(rid)
    assert rid != CURSOR_ID


def test_the_cursors_id_can_never_be_a_hex_digest() -> None:
    assert not KEY_ID.fullmatch(CURSOR_ID)
    assert set(CURSOR_ID) - set("0123456789abcdef")  # not even after a change of the digest's length


@pytest.mark.parametrize("status", [s.value for s in Status] + ["COMPLETING", "", "completed", "SOMETHING_NEW"])
def test_only_completed_and_released_keys_may_be_deleted(status: str) -> None:
    assert may_delete(status) is (status in ("COMPLETED", "RELEASED"))


def test_the_delete_condition_is_the_same_rule() -> None:
    assert {value["S"] for value in _STATUSES.values()} == DELETABLE_WHEN_EXPIRED
    assert all(name in _DELETABLE for name in _STATUSES)
    assert "#exp < :now_s" in _DELETABLE  # expiry checked again at the delete


def test_a_run_stops_while_dynamodb_calls_are_still_allowed() -> None:
    # The cursor of the last finished page must still be written when the run stops for time.
    assert STOP_BEFORE_END_MS > REFUSED_UNDER_MS + 1_000


def test_the_sweeper_settings_have_defaults_and_bounds() -> None:
    settings = Settings.from_env(TABLES)
    assert (
        settings.key_sweeper_max_deletes_per_run,
        settings.key_sweeper_page_size,
        settings.key_sweeper_max_pages_per_run,
    ) == (1_000, 200, 50)
    chosen = Settings.from_env(
        {
            **TABLES,
            "KEY_SWEEPER_MAX_DELETES_PER_RUN": "5",
            "KEY_SWEEPER_PAGE_SIZE": "7",
            "KEY_SWEEPER_MAX_PAGES_PER_RUN": "3",
        }
    )
    assert (chosen.key_sweeper_max_deletes_per_run, chosen.key_sweeper_page_size) == (5, 7)
    assert chosen.key_sweeper_max_pages_per_run == 3


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KEY_SWEEPER_MAX_DELETES_PER_RUN", "0"),
        ("KEY_SWEEPER_MAX_DELETES_PER_RUN", "10001"),
        ("KEY_SWEEPER_PAGE_SIZE", "0"),
        ("KEY_SWEEPER_PAGE_SIZE", "1001"),
        ("KEY_SWEEPER_MAX_PAGES_PER_RUN", "0"),
        ("KEY_SWEEPER_MAX_PAGES_PER_RUN", "1001"),
    ],
)
def test_out_of_bounds_sweeper_settings_fail_at_cold_start(name: str, value: str) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings.from_env({**TABLES, name: value})

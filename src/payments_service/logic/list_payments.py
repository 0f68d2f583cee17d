"""A merchant's payments, newest first."""

from __future__ import annotations

from ..domain.pages import Page
from ..domain.payments import PaymentsRepository
from ..domain.stored_payments import StoredPayment


class ListPayments:
    def __init__(self, repository: PaymentsRepository) -> None:
        self._repository = repository

    def __call__(self, merchant: str, limit: int, cursor: str | None) -> Page[StoredPayment]:
        """Only the merchant's own: the index is partitioned by merchant, and cursors carry no merchant."""
        return self._repository.list_by_merchant(merchant, limit, cursor)

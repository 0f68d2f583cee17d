"""Paging through lists: a page of items and the opaque cursor of the next one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import Invalid

T = TypeVar("T")

MAX_PAGE = 100
DEFAULT_PAGE = 10


class InvalidCursor(Invalid):
    """A `starting_after` that is not a cursor this API handed out (tampered, truncated, another list's)."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None  # None on the last page

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None

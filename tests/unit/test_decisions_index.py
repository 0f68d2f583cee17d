"""docs/decisions/: one file per decision, each numbered in its title and listed once in the index."""

from __future__ import annotations

import re
from pathlib import Path

DECISIONS = Path(__file__).resolve().parents[2] / "docs" / "decisions"


def test_every_decision_is_listed_once_and_every_link_resolves() -> None:
    index = (DECISIONS / "README.md").read_text()
    linked = re.findall(r"\]\(([^)]+\.md)\)", index)
    records = sorted(p.name for p in DECISIONS.glob("[0-9][0-9][0-9][0-9]-*.md"))
    assert sorted(linked) == records  # each once, none missing, none dangling
    numbers = [name[:4] for name in records]
    assert len(set(numbers)) == len(numbers)


def test_each_record_names_its_decision_in_its_title() -> None:
    for path in DECISIONS.glob("[0-9][0-9][0-9][0-9]-*.md"):
        title = path.read_text().split("\n", 1)[0]
        assert title.startswith("# ") and len(title) > 10, path.name

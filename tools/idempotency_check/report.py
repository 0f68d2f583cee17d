"""How results are shown: a rich table for people, JSON for machines, a progress bar only on a terminal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from .battery import NoProgress, Outcome

MAX_IDS_SHOWN = 4


class RichProgress:
    def __init__(self, progress: Progress, total: int) -> None:
        self._progress = progress
        self._task = progress.add_task("connecting", total=total)

    def stage(self, title: str) -> None:
        self._progress.update(self._task, description=title)

    def advance(self) -> None:
        self._progress.advance(self._task)


@contextmanager
def progress(enabled: bool, total: int, stream: TextIO) -> Iterator[RichProgress | NoProgress]:
    """A transient bar on `stream` (a terminal), or nothing at all."""
    if not enabled:
        yield NoProgress()
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(file=stream), transient=True) as bar:
        yield RichProgress(bar, total)


def statuses(outcome: Outcome) -> str:
    return ", ".join(f"{label} x{count}" for label, count in sorted(outcome.statuses.items())) or "none"


def ids(outcome: Outcome) -> str:
    shown = ", ".join(outcome.payment_ids[:MAX_IDS_SHOWN])
    more = len(outcome.payment_ids) - MAX_IDS_SHOWN
    return shown + (f", +{more} more" if more > 0 else "")


# What an id names, by the prefix the service gives it (domain/payments.py, domain/refunds.py).
_KINDS = {"pay_": "payment", "re_": "refund"}


def id_kind(found: list[str]) -> str:
    """'payment ids', 'refund ids', or plain 'ids' for a mix or an id of another service."""
    kinds = {next((kind for prefix, kind in _KINDS.items() if i.startswith(prefix)), "") for i in found}
    return f"{kinds.pop()} ids" if len(kinds) == 1 and "" not in kinds else "ids"


def evidence(outcome: Outcome) -> str:
    lines = [f"statuses: {statuses(outcome)}"]
    if outcome.payment_ids:
        lines.append(f"distinct {id_kind(outcome.payment_ids)}: {len(outcome.payment_ids)} ({ids(outcome)})")
    lines += outcome.notes
    lines += [f"✗ {violation}" for violation in outcome.violations]
    return "\n".join(lines)


def table(outcomes: list[Outcome], heading: str, console: Console) -> None:
    grid = Table(title=heading, show_lines=True, title_justify="left", expand=True)
    grid.add_column("Check", ratio=2)
    grid.add_column("Result", no_wrap=True)
    grid.add_column("Evidence", ratio=3, overflow="fold")
    for outcome in outcomes:  # evidence goes in as Text: "[201, 201]" must not be read as markup
        result = "[green]PASS[/]" if outcome.passed else "[bold red]FAIL[/]"
        grid.add_row(f"[bold]{outcome.name}[/]\n[dim]{outcome.title}[/]", result, Text(evidence(outcome)))
    console.print(grid)
    failed = [o.name for o in outcomes if not o.passed]
    if failed:
        console.print(f"[bold red]{len(failed)} of {len(outcomes)} checks FAILED:[/] {', '.join(failed)}")
    else:
        console.print(f"[green]all {len(outcomes)} checks passed[/]")


def as_json(outcomes: list[Outcome], context: dict[str, Any]) -> str:
    document = {
        **context,
        "passed": all(o.passed for o in outcomes),
        "checks": [
            {
                "name": o.name,
                "title": o.title,
                "passed": o.passed,
                "statuses": dict(sorted(o.statuses.items())),
                "distinct_payment_ids": o.payment_ids,
                "notes": o.notes,
                "violations": o.violations,
            }
            for o in outcomes
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)

"""The results as rows: one table for the console and the same one, in Markdown, for docs/performance.md."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCENARIO_LABELS = {
    "first": "first request",
    "replay": "replay",
    "in_flight": "in-flight duplicate",
    "mismatch": "key reused, other body",
    "decline": "decline",
    "transient": "transient failure",
    "get": "GET",
    "replay_cached": "replay, in-memory cache on",
}
# From the issue: our DynamoDB round trips, and our figures relative to the Powertools app baseline's.
LATENCY_TARGETS = {("first", "median"): 0.8, ("replay", "median"): 1.0}
COLD_START_TARGET = 0.8
COLD_START_FLOOR_TARGET = 1.25  # issue 23: at most this times the work every implementation shares


IMPLS = ("ours", "app", "minimal")
BASELINES = ("app", "minimal")


@dataclass(frozen=True)
class Row:
    section: str
    label: str
    values: tuple[str, str, str]  # ours, app, minimal
    vs_app: str = ""
    vs_minimal: str = ""
    target: str = ""
    met: bool | None = None  # against the app baseline (or, for round trips, ours' own count)
    met_minimal: bool | None = None  # the same target, had it been judged against the minimal baseline

    @property
    def verdict(self) -> str:
        return "" if self.met is None else ("met" if self.met else "MISSED")


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ratio(ours: float | None, baseline: float | None, digits: int = 2) -> float | None:
    return round(ours / baseline, digits) if ours is not None and baseline else None


def _figure_row(
    section: str, label: str, figures: dict[str, float], digits: int = 2, limit: float | None = None
) -> Row:
    """A row of three measured figures, both ratios, and a ratio target judged against each baseline."""
    ratios = {b: _ratio(figures["ours"], figures[b], 3 if limit else 2) for b in BASELINES}
    # Judged on the unrounded ratio (shown to 3 places on target rows): 0.804 misses a 0.8 target.
    verdicts = {
        b: None if limit is None or not figures[b] else figures["ours"] / figures[b] <= limit for b in BASELINES
    }
    return Row(
        section,
        label,
        (_num(figures["ours"], digits), _num(figures["app"], digits), _num(figures["minimal"], digits)),
        _num(ratios["app"], 3 if limit else 2),
        _num(ratios["minimal"], 3 if limit else 2),
        f"<= {limit}x" if limit else "",
        verdicts["app"],
        verdicts["minimal"],
    )


def rows(results: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for scenario, figures in results["calls"].items():
        counts = {impl: figures[impl]["calls"] for impl in IMPLS}
        fixed = all(isinstance(c, int) for c in counts.values())
        met = counts["ours"] == figures["target_ours"]
        out.append(
            Row(
                "DynamoDB calls per request",
                SCENARIO_LABELS[scenario],
                (str(counts["ours"]), str(counts["app"]), str(counts["minimal"])),
                _num(_ratio(counts["ours"], counts["app"])) if fixed else "n/a",
                _num(_ratio(counts["ours"], counts["minimal"])) if fixed else "n/a",
                str(figures["target_ours"]),
                met,
                met,
            )
        )
    for request, by_impl in results["latency"].items():
        for stat in ("median", "p99"):
            label = f"{SCENARIO_LABELS[request]}, {stat} (n={by_impl['ours']['wall_ms']['n']})"
            figures = {impl: by_impl[impl]["wall_ms"][stat] for impl in IMPLS}
            limit = LATENCY_TARGETS.get((request, stat))
            out.append(_figure_row("Latency in the handler, ms (moto)", label, figures, limit=limit))
    for field, section in (
        ("outside_dynamodb_ms", "Handler time outside DynamoDB calls, ms (median)"),
        ("cpu_ms", "CPU per request, ms (median)"),
    ):
        for request, by_impl in results["latency"].items():
            figures = {impl: by_impl[impl][field]["median"] for impl in IMPLS}
            out.append(_figure_row(section, SCENARIO_LABELS[request], figures))
    out.extend(_cold_rows(results["coldstart"], "Cold start, ms (median of {runs} fresh processes)", target=True))
    if results.get("coldstart_without_bytecode"):
        out.extend(_cold_rows(results["coldstart_without_bytecode"], "Cold start without .pyc, ms (median of {runs})"))
    artifact = results["artifact"]
    size = f"{artifact['zip_bytes']:,} B zipped" if artifact["built"] else "not built"
    out.append(Row("Deployment artifact", "sam build, PaymentsFunction", (size, "n/a", "n/a")))
    return out


def _cold_rows(cold: dict[str, Any], section: str, target: bool = False) -> list[Row]:
    out = []
    for field, label in (
        ("import_ms", "import the handler module"),
        ("total_ms", "import + clients + first request"),
        ("cold_ms", "the same with interpreter start-up"),
    ):
        figures = {impl: cold[impl][f"{field}_median"] for impl in IMPLS}
        limit = COLD_START_TARGET if target and field == "total_ms" else None
        out.append(_figure_row(section.format(runs=cold["runs"]), label, figures, digits=1, limit=limit))
    return out


HEADERS = ("", "ours", "app", "minimal", "ours/app", "ours/minimal", "target", "vs app")


def _cells(row: Row) -> tuple[str, ...]:
    return (row.label, *row.values, row.vs_app, row.vs_minimal, row.target, row.verdict)


def text(table: list[Row]) -> str:
    cells = [_cells(r) for r in table]
    widths = [max(len(str(c[i])) for c in [*cells, HEADERS]) for i in range(len(HEADERS))]
    lines: list[str] = []
    section = None
    for row, cell in zip(table, cells, strict=True):
        if row.section != section:
            section = row.section
            lines.append("")
            lines.append(section)
        lines.append(
            "  "
            + cell[0].ljust(widths[0])
            + "  "
            + "  ".join(str(c).rjust(w) for c, w in zip(cell[1:], widths[1:], strict=True))
        )
    header = (
        "  "
        + HEADERS[0].ljust(widths[0])
        + "  "
        + "  ".join(h.rjust(w) for h, w in zip(HEADERS[1:], widths[1:], strict=True))
    )
    return header + "\n" + "\n".join(lines[1:] if lines and not lines[0] else lines)


def markdown(table: list[Row]) -> str:
    lines = [
        "| | ours | Powertools app | minimal | ours/app | ours/minimal | target (ours/app) | |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    section = None
    for row in table:
        if row.section != section:
            section = row.section
            lines.append(f"| **{section}** | | | | | | | |")
        lines.append("| " + " | ".join(_cells(row)) + " |")
    return "\n".join(lines)


def targets(table: list[Row]) -> list[Row]:
    """The issue's ratio targets (latency and cold start), each judged against both baselines."""
    return [r for r in table if r.target.startswith("<=")]


def per_operation(results: dict[str, Any]) -> list[str]:
    """One line per implementation and request: median time of each DynamoDB call as the client saw it."""
    lines = []
    for request in ("first", "replay"):
        for impl in IMPLS:
            calls = results["latency"][request][impl]["dynamodb_call_ms"]
            parts = ", ".join(f"{op} {figures['median']:.2f}" for op, figures in calls.items())
            lines.append(f"{SCENARIO_LABELS[request]}, {impl}: {parts or 'no calls'}")
    return lines


def missed(table: list[Row]) -> list[Row]:
    return [r for r in table if r.met is False]


def cold_targets(cold: dict[str, Any]) -> list[str]:
    """Issue 23's two cold-start targets side by side, from one run: ours against the Powertools app and
    against the floor (bench/coldstart_floor.py: a DynamoDB client built as ours is + pydantic + one put)."""
    if "floor" not in cold:
        return []
    lines = [f"cold start, import + clients + first request (median of {cold['runs']} fresh processes, ms):"]
    for field, label in (("total_ms", "in the process"), ("cold_ms", "with interpreter start-up")):
        ours, app, floor = (cold[impl][f"{field}_median"] for impl in ("ours", "app", "floor"))
        vs_app, vs_floor = ours / app, ours / floor
        lines.append(
            f"  {label}: ours {ours:.1f}  app {app:.1f}  floor {floor:.1f}"
            f"  ours/app {vs_app:.3f} (<= {COLD_START_TARGET}: {'met' if vs_app <= COLD_START_TARGET else 'MISSED'})"
            f"  ours/floor {vs_floor:.3f}"
            f" (<= {COLD_START_FLOOR_TARGET}: {'met' if vs_floor <= COLD_START_FLOOR_TARGET else 'MISSED'})"
        )
    return lines

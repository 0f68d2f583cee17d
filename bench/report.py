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
# From the issue: our DynamoDB round trips, and our figures relative to the baseline's.
LATENCY_TARGETS = {("first", "median"): 0.8, ("replay", "median"): 1.0}
COLD_START_TARGET = 0.8


@dataclass(frozen=True)
class Row:
    section: str
    label: str
    ours: str
    baseline: str
    ratio: str
    target: str = ""
    met: bool | None = None

    @property
    def verdict(self) -> str:
        return "" if self.met is None else ("met" if self.met else "MISSED")


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ratio(ours: float | None, baseline: float | None) -> float | None:
    return round(ours / baseline, 2) if ours is not None and baseline else None


def rows(results: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for scenario, figures in results["calls"].items():
        ours, baseline = figures["ours"]["calls"], figures["baseline"]["calls"]
        fixed = isinstance(ours, int) and isinstance(baseline, int)
        out.append(
            Row(
                "DynamoDB calls per request",
                SCENARIO_LABELS[scenario],
                str(ours),
                str(baseline),
                _num(_ratio(ours, baseline)) if fixed else "n/a",
                str(figures["target_ours"]),
                ours == figures["target_ours"],
            )
        )
    for request, by_impl in results["latency"].items():
        for stat in ("median", "p99"):
            ours, baseline = by_impl["ours"]["wall_ms"][stat], by_impl["baseline"]["wall_ms"][stat]
            ratio = _ratio(ours, baseline)
            limit = LATENCY_TARGETS.get((request, stat))
            label = f"{SCENARIO_LABELS[request]}, {stat} (n={by_impl['ours']['wall_ms']['n']})"
            out.append(
                Row(
                    "Latency in the handler, ms (moto)",
                    label,
                    _num(ours),
                    _num(baseline),
                    _num(ratio),
                    f"<= {limit}x" if limit else "",
                    None if limit is None or ratio is None else ratio <= limit,
                )
            )
    for field, section in (
        ("outside_dynamodb_ms", "Handler time outside DynamoDB calls, ms (median)"),
        ("cpu_ms", "CPU per request, ms (median)"),
    ):
        for request, by_impl in results["latency"].items():
            ours, baseline = by_impl["ours"][field]["median"], by_impl["baseline"][field]["median"]
            out.append(Row(section, SCENARIO_LABELS[request], _num(ours), _num(baseline), _num(_ratio(ours, baseline))))
    out.extend(_cold_rows(results["coldstart"], "Cold start, ms (median of {runs} fresh processes)", target=True))
    if results.get("coldstart_without_bytecode"):
        out.extend(_cold_rows(results["coldstart_without_bytecode"], "Cold start without .pyc, ms (median of {runs})"))
    artifact = results["artifact"]
    size = f"{artifact['zip_bytes']:,} B zipped" if artifact["built"] else "not built"
    out.append(Row("Deployment artifact", "sam build, PaymentsFunction", size, "n/a", ""))
    return out


def _cold_rows(cold: dict[str, Any], section: str, target: bool = False) -> list[Row]:
    out = []
    for field, label in (
        ("import_ms", "import the handler module"),
        ("total_ms", "import + clients + first request"),
        ("cold_ms", "the same with interpreter start-up"),
    ):
        ours, baseline = cold["ours"][f"{field}_median"], cold["baseline"][f"{field}_median"]
        ratio = _ratio(ours, baseline)
        has_target = target and field == "total_ms"
        out.append(
            Row(
                section.format(runs=cold["runs"]),
                label,
                _num(ours, 1),
                _num(baseline, 1),
                _num(ratio),
                f"<= {COLD_START_TARGET}x" if has_target else "",
                (ratio is not None and ratio <= COLD_START_TARGET) if has_target else None,
            )
        )
    return out


HEADERS = ("", "ours", "baseline", "ours/baseline", "target (ours)", "")


def text(table: list[Row]) -> str:
    cells = [(r.label, r.ours, r.baseline, r.ratio, r.target, r.verdict) for r in table]
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
    lines = ["| | ours | baseline | ours/baseline | target (ours) | |", "|---|---:|---:|---:|---:|---|"]
    section = None
    for row in table:
        if row.section != section:
            section = row.section
            lines.append(f"| **{section}** | | | | | |")
        lines.append(f"| {row.label} | {row.ours} | {row.baseline} | {row.ratio} | {row.target} | {row.verdict} |")
    return "\n".join(lines)


def per_operation(results: dict[str, Any]) -> list[str]:
    """One line per implementation and request: median time of each DynamoDB call as the client saw it."""
    lines = []
    for request in ("first", "replay"):
        for impl in ("ours", "baseline"):
            calls = results["latency"][request][impl]["dynamodb_call_ms"]
            parts = ", ".join(f"{op} {figures['median']:.2f}" for op, figures in calls.items())
            lines.append(f"{SCENARIO_LABELS[request]}, {impl}: {parts or 'no calls'}")
    return lines


def missed(table: list[Row]) -> list[Row]:
    return [r for r in table if r.met is False]

"""docs/bench.png: latency distributions of first requests and replays, and the cold-start medians."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .stats import percentile

COLORS = {"ours": "#1f77b4", "app": "#ff7f0e", "minimal": "#7f7f7f"}
LABELS = {"ours": "ours", "app": "Powertools app", "minimal": "minimal"}
DRAW_ORDER = ("minimal", "app", "ours")  # ours on top


def draw(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for axis, request, title in (
        (axes[0], "first", "First request"),
        (axes[1], "replay", "Replay"),
    ):
        by_impl = results["latency"][request]
        every = [s for impl in COLORS for s in by_impl[impl]["samples_ms"]]
        low, high = percentile(every, 0.5), percentile(every, 99.5)  # the rest is drawn off-scale
        bins = [low + (high - low) * i / 60 for i in range(61)]
        for impl in DRAW_ORDER:
            samples = [min(max(s, low), high) for s in by_impl[impl]["samples_ms"]]
            median = by_impl[impl]["wall_ms"]["median"]
            label = f"{LABELS[impl]}: median {median:.2f} ms"
            axis.hist(samples, bins=bins, alpha=0.45, color=COLORS[impl], label=label)
            axis.axvline(median, color=COLORS[impl], linestyle="--", linewidth=1)
        n = by_impl["ours"]["wall_ms"]["n"]
        axis.set_title(f"{title}: latency in the handler (n={n} each)")
        axis.set_xlabel("ms (embedded moto DynamoDB, 0.5-99.5th percentile)")
        axis.set_ylabel("requests")
        axis.legend()

    cold = results["coldstart"]
    kinds = [("import_ms", "import"), ("total_ms", "import + first\nrequest")]
    if results.get("coldstart_without_bytecode"):
        kinds.append(("nopyc_total_ms", "import + first\nrequest, no .pyc"))
    positions = range(len(kinds))
    for offset, impl in ((-0.27, "ours"), (0.0, "app"), (0.27, "minimal")):
        values = [
            results["coldstart_without_bytecode"][impl]["total_ms_median"]
            if field == "nopyc_total_ms"
            else cold[impl][f"{field}_median"]
            for field, _ in kinds
        ]
        bars = axes[2].bar([p + offset for p in positions], values, width=0.27, color=COLORS[impl], label=LABELS[impl])
        axes[2].bar_label(bars, fmt="%.0f", fontsize=7)
    if "floor" in cold:  # the work all three share: drawn across the "import + first request" group
        floor = cold["floor"]["total_ms_median"]
        axes[2].hlines(floor, 0.6, 1.4, colors="black", linestyles=":", label=f"shared floor {floor:.0f} ms")
    axes[2].set_xticks(list(positions), [label for _, label in kinds])
    axes[2].set_ylabel("ms (median)")
    axes[2].set_ylim(0, axes[2].get_ylim()[1] * 1.25)
    axes[2].set_title(f"Cold start, fresh processes (median of {cold['runs']})")
    axes[2].legend(ncol=2, fontsize=8, loc="upper left")

    machine = results["machine"]
    figure.suptitle(
        f"idempotent-payments vs a Powertools app (targets) and a minimal Powertools handler"
        f" - {results['started_at'][:10]}, "
        f"{machine['cpu_count']} CPUs, load {machine['load_start'][0]:.2f} -> {machine['load_end'][0]:.2f}",
        fontsize=10,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)

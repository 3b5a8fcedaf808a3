"""PNG plots for the latency scenarios (matplotlib, from the ``bench`` extra, imported lazily)."""

from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def latency_ladder_plot(result: dict[str, Any], path: Path, title: str) -> bool:
    """Ack and delivery p50/p99/p99.9 against the offered rate; False without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return False
    ladder = result["median"]["ladder"]
    rates = [float(r) for r in ladder]
    fig, ax = plt.subplots(figsize=(8, 5))
    for kind, style, marker in (("delivery_ms", "-", "o"), ("ack_ms", "--", "x")):
        for p, colour in (("p50", "tab:green"), ("p99", "tab:orange"), ("p99.9", "tab:red")):
            values = [ladder[r][kind][p] for r in ladder]
            points = [(x, y) for x, y in zip(rates, values, strict=True) if y is not None]
            if points:
                ax.plot(
                    *zip(*points, strict=True),
                    style,
                    marker=marker,
                    color=colour,
                    label=f"{kind.split('_')[0]} {p}",
                )
    goal = result["config"].get("goal_p99_ms")
    if goal:
        ax.axhline(goal, color="grey", linestyle=":", label=f"goal p99 < {goal:g} ms")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered messages per second (open loop)")
    ax.set_ylabel("latency (ms)")
    label = ", validation run" if result.get("note") else ""
    ax.set_title(f"{title} ({result['database']}, {result['mode']} mode{label})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def bar_plot(
    labels: list[str], series: dict[str, list[float | None]], path: Path, title: str, ylabel: str
) -> bool:
    """Grouped bars, one group per label and one bar per series; False without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return False
    fig, ax = plt.subplots(figsize=(8, 5))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        xs = [j + i * width for j in range(len(labels))]
        ax.bar(xs, [v or 0 for v in values], width, label=name)
    ax.set_xticks([j + width * (len(series) - 1) / 2 for j in range(len(labels))], labels)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True

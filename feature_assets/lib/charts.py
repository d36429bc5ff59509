"""Text charts for metadata: bars and sparklines that any Dagster UI renders, no image needed.

Unicode block characters render in the UI's markdown (inside code spans, so that bars of one
table line up) and in plain text metadata, where a person sees them without a click.
"""

from collections.abc import Mapping, Sequence

EIGHTHS = ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")
FULL = "█"
LEVELS = "▁▂▃▄▅▆▇█"
WIDTH = 24
"""Characters of the longest bar of a chart."""


def bar(value: float, top: float, width: int = WIDTH) -> str:
    """A horizontal bar, to an eighth of a character, on a scale where ``top`` fills ``width``."""
    eighths = round(value / top * width * 8) if top > 0 else 0
    full, rest = divmod(max(eighths, 0), 8)
    return FULL * full + EIGHTHS[rest]


def sparkline(values: Sequence[float], top: float) -> str:
    """One character per value, from ▁ (0) to █ (``top``)."""
    steps = len(LEVELS) - 1
    return "".join(LEVELS[round(v / top * steps) if top > 0 else 0] for v in values)


def shares(counts: Sequence[int]) -> list[float]:
    """Each count's share of the total (all zero when the total is)."""
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def histograms(labels: Sequence[str], series: Mapping[str, Sequence[int]], title: str) -> str:
    """Markdown: one row per bin, one bar column per histogram, all on one scale of shares.

    ``series`` maps each column's heading to its counts per bin (in the order of ``labels``).
    """
    by_name = {name: shares(counts) for name, counts in series.items()}
    top = max((s for values in by_name.values() for s in values), default=0.0)
    lines = [
        f"| {title} | " + " | ".join(by_name) + " |",
        "|---|" + "---|" * len(by_name),
    ]
    for i, label in enumerate(labels):
        cells = [
            f"`{bar(values[i], top).ljust(WIDTH)}` {values[i]:.1%}" for values in by_name.values()
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

"""Timing helpers shared by the benchmarks: best-of timing, and tables that put every figure
beside its anchor (the alternative measured in the same run) and its target, as ratios."""

from __future__ import annotations

import json
import math
import platform
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

RESULTS = Path(__file__).resolve().parent / "results"
T = TypeVar("T")


@dataclass(frozen=True)
class Figure:
    """One measured number with its unit and what it measures.

    `anchor`: the same quantity for the alternative (`anchor_name`: another library, or the
    code it replaced), measured in the same run. `target`: the number to reach. Both are
    printed as value / anchor and value / target; `higher_is_better` says which way is good.
    """

    name: str
    value: float
    unit: str
    note: str = ""
    anchor: float | None = None
    anchor_name: str = ""
    target: float | None = None
    higher_is_better: bool = False

    def ratio_to(self, reference: float | None) -> float | None:
        """value / reference, or None when there is no finite reference."""
        if reference is None or not math.isfinite(reference) or reference == 0:
            return None
        return self.value / reference

    def meets_target(self) -> bool | None:
        ratio = self.ratio_to(self.target)
        if ratio is None:
            return None
        return ratio >= 1 if self.higher_is_better else ratio <= 1


def best_of(repeats: int, run: Callable[[], T]) -> tuple[float, T]:
    """The fastest wall time (s) of `repeats` runs, and the last run's result."""
    best = float("inf")
    result: T
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def slug(title: str) -> str:
    """A file name for a title: lower case letters, digits and '_' only (no ':' or '/')."""
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


def _compare(figure: Figure) -> str:
    parts = []
    anchor = figure.ratio_to(figure.anchor)
    if anchor is not None:
        parts.append(f"{anchor:6.2f}x {figure.anchor_name} ({figure.anchor:.4g})")
    target = figure.ratio_to(figure.target)
    if target is not None:
        sign = ">=" if figure.higher_is_better else "<="
        verdict = "met" if figure.meets_target() else "NOT met"
        parts.append(f"target {sign} {figure.target:.4g}: {target:.2f}x, {verdict}")
    return "; ".join(parts)


def report(title: str, figures: list[Figure]) -> None:
    """Print a table and write it as JSON under benchmarks/results/."""
    print(f"\n{title}")
    width = max(len(f.name) for f in figures)
    for f in figures:
        compared = _compare(f)
        line = f"  {f.name:<{width}}  {f.value:>12.4g} {f.unit:<10} {compared}"
        print(line.rstrip() + (f"  [{f.note}]" if f.note else ""))
    RESULTS.mkdir(exist_ok=True)
    data = {
        "title": title,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "figures": [
            {**asdict(f), "ratio_to_anchor": f.ratio_to(f.anchor), "target_met": f.meets_target()}
            for f in figures
        ],
    }
    path = RESULTS / f"{slug(title)}.json"
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

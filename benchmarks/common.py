"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

RESULTS = Path(__file__).resolve().parent / "results"
T = TypeVar("T")


@dataclass(frozen=True)
class Figure:
    """One measured number with its unit and what it measures."""

    name: str
    value: float
    unit: str
    note: str = ""


def best_of(repeats: int, run: Callable[[], T]) -> tuple[float, T]:
    """The fastest wall time (s) of `repeats` runs, and the last run's result."""
    best = float("inf")
    result: T
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def report(title: str, figures: list[Figure]) -> None:
    """Print a table and write it as JSON under benchmarks/results/."""
    print(f"\n{title}")
    width = max(len(f.name) for f in figures)
    for f in figures:
        print(f"  {f.name:<{width}}  {f.value:>12.4g} {f.unit:<12} {f.note}")
    RESULTS.mkdir(exist_ok=True)
    slug = title.lower().replace(" ", "_").replace("/", "_")
    data = {
        "title": title,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "figures": [asdict(f) for f in figures],
    }
    (RESULTS / f"{slug}.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

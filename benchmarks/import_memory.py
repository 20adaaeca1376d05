"""Peak memory and time of a large CSV import, beside pandas and pyarrow on the same file.

A ~200-MB IMU export (time in ms, acceleration in g, rotation in deg/s) is generated in a
temporary folder; each reader runs in a fresh process that reports its own peak resident memory
(`ru_maxrss`) above what it held before the read, so one reader's memory cannot hide another's.
The kept data is the float64 arrays a reader returns (balancelab: `time_s` and `values`).
"old" is the importer at `--old REV` (default: the commit before the streaming reader), taken
from git into a temporary folder; `python -m benchmarks.import_memory --old ''` skips it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import Figure, report

REPO = Path(__file__).resolve().parents[1]
OLD_REV = "9d08d3e"  # the last commit that read a whole CSV into Python strings
ROWS = 3_200_000  # ~200 MB: 1.8 h at 500 Hz
COLUMNS = ("t", "ax", "ay", "az", "gx", "gy", "gz")
COLUMNS_SPEC = (
    "time=t,acc_x=ax,acc_y=ay,acc_z=az,gyr_x=gx,gyr_y=gy,gyr_z=gz,"
    "time_units=ms,acc_units=g,gyr_units=deg/s"
)

# Each reader's code, run as `python -c`: reads the file named by argv[1], prints JSON.
_PRELUDE = """
import json, resource, sys, time
import numpy as np
"""
_MEASURE = """
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
arrays = read(sys.argv[1])
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_kib": peak - before,
                  "kept_bytes": sum(a.nbytes for a in arrays), "rows": len(arrays[0])}))
"""
READERS = {
    "balancelab": f"""
from balancelab.formats.import_csv import parse_columns
from balancelab.formats.importers import import_file
column_map = parse_columns({COLUMNS_SPEC!r}, "board")
def read(path):
    (rec,) = import_file(path, column_map=column_map)
    return rec.time_s, rec.values
""",
    "pandas": f"""
import pandas as pd
def read(path):
    frame = pd.read_csv(path, usecols={list(COLUMNS)!r}, dtype=np.float64, engine="c")
    return [frame[c].to_numpy() for c in {list(COLUMNS)!r}]
""",
    "pyarrow": f"""
import pyarrow as pa, pyarrow.csv as pacsv
def read(path):
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        include_columns={list(COLUMNS)!r},
        column_types=dict.fromkeys({list(COLUMNS)!r}, pa.float64())))
    return [table.column(c).to_numpy() for c in {list(COLUMNS)!r}]
""",
}


def write_csv(path: Path, rows: int) -> None:
    """An IMU export at 500 Hz: time in ms, acceleration (g) near gravity, rotation (deg/s)."""
    rng = np.random.default_rng(1)
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(COLUMNS) + "\n")
        for first in range(0, rows, 200_000):
            n = min(200_000, rows - first)
            t = (first + np.arange(n)) * 2.0
            acc = rng.normal(0.0, 0.02, (n, 3)) + np.array([0.0, 0.0, 1.0])
            gyr = rng.normal(0.0, 5.0, (n, 3))
            lines = (
                f"{a:.1f},{b:.6f},{c:.6f},{d:.6f},{e:.4f},{f:.4f},{g:.4f}\n"
                for a, b, c, d, e, f, g in np.column_stack([t, acc, gyr]).tolist()
            )
            out.writelines(lines)


def measure(reader: str, path: Path, source_root: Path = REPO) -> dict[str, float]:
    """Run one reader in a fresh process on `path`; its time, peak memory and kept bytes."""
    code = _PRELUDE + READERS[reader] + _MEASURE
    env = {**os.environ, "PYTHONPATH": str(source_root)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=source_root,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{reader} failed: {done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout)
    return result


def old_tree(rev: str, into: Path) -> Path:
    """The balancelab package at `rev`, extracted with git archive (the work tree is untouched)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "balancelab"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def run(old_rev: str) -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "imu.csv"
        write_csv(path, ROWS)
        megabytes = path.stat().st_size / 1e6
        new = measure("balancelab", path)
        others = {
            name: measure(name, path)
            for name in ("pyarrow", "pandas")
            if importlib.util.find_spec(name) is not None
        }
        old = None
        if old_rev:
            (Path(tmp) / "old").mkdir()
            old = measure("balancelab", path, old_tree(old_rev, Path(tmp) / "old"))
    best = min(others, key=lambda n: others[n]["peak_kib"]) if others else ""
    anchor = others.get(best)
    kept_mb = new["kept_bytes"] / 1e6
    figures = [
        Figure("CSV file", megabytes, "MB", f"{new['rows']:.0f} rows, 7 columns"),
        Figure("kept arrays (time_s, values)", kept_mb, "MB"),
        Figure(
            "balancelab peak memory",
            new["peak_kib"] / 1024,
            "MiB",
            f"{new['seconds']:.1f} s",
            anchor=anchor["peak_kib"] / 1024 if anchor else None,
            anchor_name=best,
        ),
        Figure(
            "balancelab peak / kept arrays",
            new["peak_kib"] * 1024 / new["kept_bytes"],
            "x",
            target=3.0,
        ),
        Figure(
            "balancelab time",
            new["seconds"],
            "s",
            f"{megabytes / new['seconds']:.0f} MB/s",
            anchor=anchor["seconds"] if anchor else None,
            anchor_name=best,
        ),
    ]
    if old is not None:
        figures += [
            Figure(
                "old balancelab peak memory",
                old["peak_kib"] / 1024,
                "MiB",
                f"at {old_rev}; {old['peak_kib'] * 1024 / old['kept_bytes']:.1f}x kept",
                anchor=new["peak_kib"] / 1024,
                anchor_name="new",
            ),
            Figure(
                "old balancelab time",
                old["seconds"],
                "s",
                f"at {old_rev}",
                anchor=new["seconds"],
                anchor_name="new",
            ),
        ]
    for name, other in others.items():
        figures += [
            Figure(f"{name} peak memory", other["peak_kib"] / 1024, "MiB"),
            Figure(f"{name} time", other["seconds"], "s"),
            Figure(f"{name} peak / kept", other["peak_kib"] * 1024 / other["kept_bytes"], "x"),
        ]
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default=OLD_REV, help="git revision of the old importer, or ''")
    args = parser.parse_args(argv)
    report("Import memory: a 200-MB CSV", run(args.old))


if __name__ == "__main__":
    main()

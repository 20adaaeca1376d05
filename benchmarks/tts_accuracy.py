"""TTS accuracy against the simulator's truth over 20 seeds (METRICS.md "Validation targets").

Prints, per tracked point, for (a) sessions with holds (step_down / hop_landing, alternate seeds)
and (b) the step_down_only scenario: median |error|, share within ±0.15 s and ±0.5 s, share
never stabilized, interval_90 coverage and median width; then the Spearman correlation of the
session-mean TTS with the athletes' landing control (step-downs only). Prints, never asserts.

    python -m benchmarks.tts_accuracy [--seeds 20] [--cache DIR]

--cache keeps the simulated sessions (pickled) so estimator changes can be re-measured quickly;
delete the folder after changing the simulator.
"""

from __future__ import annotations

import argparse
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from balancelab.dsp.analysis import analyze_session
from balancelab.sim import AthleteParams, simulate_session

INTERNAL_FS_HZ = 200.0
CONTROL = (0.5, 0.75, 1.0)  # landing_control of the ranked athletes (1.2 and more: touch-downs)

Row = tuple[str, str, float | None, tuple[float, float | None] | None, float | None]


def _session(scenario: str, seed: int, control: float, cache: Path | None):  # type: ignore[no-untyped-def]
    path = None if cache is None else cache / f"{scenario}-{seed}-{control}.pkl"
    if path is not None and path.exists():
        return pickle.loads(path.read_bytes())
    athlete = AthleteParams(landing_control=control)
    result = simulate_session(scenario, athlete, seed=seed, internal_fs_hz=INTERNAL_FS_HZ)
    if path is not None:
        path.write_bytes(pickle.dumps(result))
    return result


def rows(job: tuple[str, int, float, Path | None]) -> list[Row]:
    """(point, side, measured, interval, truth) of every valid landing of one session."""
    scenario, seed, control, cache = job
    session, truth = _session(scenario, seed, control, cache)
    out: list[Row] = []
    for rec in analyze_session(session).recordings:
        for result, trial_truth in zip(rec.trials, truth.trials, strict=True):
            landing = trial_truth.landing
            if landing is None or not result.valid:
                continue
            cop = rec.tracked_point == "cop"
            true_s = landing.settling_time_cop_s if cop else landing.settling_time_s
            tts = result.metrics["tts"]
            out.append((rec.tracked_point, result.side, tts.value, tts.interval_90, true_s))
    return out


def figures(found: list[Row], point: str) -> str:
    own = [r for r in found if r[0] == point and r[4] is not None]
    err = np.array([np.inf if r[2] is None else r[2] - r[4] for r in own])  # type: ignore[operator]
    inside, widths = [], []
    for r in own:
        if r[3] is None:
            inside.append(False)
            continue
        low, high = r[3]
        inside.append(low <= r[4] and (high is None or r[4] <= high))  # type: ignore[operator]
        if high is not None:
            widths.append(high - low)
    return (
        f"{point:8s} n={err.size:4d}  median|err| {np.median(np.abs(err)):.3f} s  "
        f"±0.15 {np.mean(np.abs(err) <= 0.15):5.1%}  ±0.5 {np.mean(np.abs(err) <= 0.5):5.1%}  "
        f"never {np.mean(~np.isfinite(err)):4.1%}  coverage {np.mean(inside):5.1%}  "
        f"width {np.median(widths):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: a, b, rank")
    args = parser.parse_args()
    if args.cache is not None:
        args.cache.mkdir(parents=True, exist_ok=True)
    seeds = range(args.seeds)
    with ProcessPoolExecutor() as pool:
        for part, name in (("a", "with holds"), ("b", "step-downs only")):
            if part in args.skip.split(","):
                continue
            jobs = [
                (
                    ("step_down" if s % 2 == 0 else "hop_landing")
                    if part == "a"
                    else "step_down_only",
                    s,
                    1.0,
                    args.cache,
                )
                for s in seeds
            ]
            found = [r for out in pool.map(rows, jobs) for r in out]
            print(f"({part}) {name}, {len(seeds)} seeds")
            for point in ("lowback", "cop"):
                print("   ", figures(found, point))
        if "rank" in args.skip.split(","):
            return
        seeds_rank = (100, 101, 102, 103)
        jobs = [("step_down_only", s, c, args.cache) for s in seeds_rank for c in CONTROL]
        results = list(pool.map(rows, jobs))
        print(f"ranking: step-downs only, landing_control {CONTROL}, seeds {seeds_rank}")
        for point in ("lowback", "cop"):
            rhos, true_rhos = [], []
            for i, _ in enumerate(seeds_rank):
                for side in ("left", "right"):
                    means, truths = [], []
                    for k, _ in enumerate(CONTROL):
                        own = [
                            r
                            for r in results[i * len(CONTROL) + k]
                            if r[0] == point and r[1] == side
                        ]
                        means.append(np.mean([r[2] for r in own if r[2] is not None]))
                        truths.append(np.mean([r[4] for r in own if r[4] is not None]))
                    rhos.append(spearmanr(means, CONTROL).statistic)
                    true_rhos.append(spearmanr(truths, CONTROL).statistic)
            print(
                f"    {point:8s} Spearman of session means with the control, per seed and side: "
                f"mean {np.mean(rhos):.2f}, min {np.min(rhos):.2f} (truth: mean "
                f"{np.mean(true_rhos):.2f}, min {np.min(true_rhos):.2f})"
            )


if __name__ == "__main__":
    main()

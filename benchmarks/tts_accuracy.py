"""TTS accuracy against the simulator's truth over 20 seeds (METRICS.md "Validation targets").

Prints, per tracked point, for (a) sessions with holds (step_down / hop_landing, alternate seeds)
and (b) the step_down_only scenario: median |error|, share within ±0.15 s and ±0.5 s, share
never stabilized, interval_90 coverage and median width; then the Spearman correlation of the
session-mean TTS with the athletes' landing control (step-downs only). Each figure has its 90 %
interval from a bootstrap over the sessions: with 20 seeds a share is known to about ±5 points,
so a second, disjoint seed set (--first-seed 1000) tells a real change from a lucky draw.
Prints, never asserts.

    python -m benchmarks.tts_accuracy [--seeds 20] [--first-seed 0] [--cache DIR]

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
BOOTSTRAP = 1000  # resamples of the sessions for the 90 % intervals of the figures
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


def _scores(own: list[Row]) -> tuple[float, float, float, float, float]:
    """median |error| (s), shares within ±0.15 s and ±0.5 s, never stabilized, coverage."""
    err = np.array([np.inf if r[2] is None else r[2] - r[4] for r in own])  # type: ignore[operator]
    inside = [
        r[3] is not None and r[3][0] <= r[4] and (r[3][1] is None or r[4] <= r[3][1])  # type: ignore[operator]
        for r in own
    ]
    return (
        float(np.median(np.abs(err))),
        float(np.mean(np.abs(err) <= 0.15)),
        float(np.mean(np.abs(err) <= 0.5)),
        float(np.mean(~np.isfinite(err))),
        float(np.mean(inside)),
    )


def figures(per_session: list[list[Row]], point: str) -> str:
    """The figures of one tracked point, each with its 90 % interval from a bootstrap over the
    sessions (seeds), as the landings of one session share its reference and its athlete."""
    sessions = [[r for r in found if r[0] == point and r[4] is not None] for found in per_session]
    own = [r for found in sessions for r in found]
    widths = [r[3][1] - r[3][0] for r in own if r[3] is not None and r[3][1] is not None]
    rng = np.random.default_rng(0)
    drawn = rng.integers(0, len(sessions), (BOOTSTRAP, len(sessions)))
    again = np.array([_scores([r for i in row for r in sessions[i]]) for row in drawn])
    low, high = np.quantile(again, [0.05, 0.95], axis=0)
    median, within_015, within_05, never, coverage = _scores(own)

    def ci(k: int, share: bool) -> str:
        return f"[{low[k]:.1%}-{high[k]:.1%}]" if share else f"[{low[k]:.3f}-{high[k]:.3f}]"

    return (
        f"{point:8s} n={len(own):4d}  median|err| {median:.3f} s {ci(0, False)}  "
        f"±0.15 {within_015:5.1%} {ci(1, True)}  ±0.5 {within_05:5.1%} {ci(2, True)}  "
        f"never {never:4.1%}  coverage {coverage:5.1%} {ci(4, True)}  "
        f"width {np.median(widths):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="first seed (a disjoint set: e.g. 1000)"
    )
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: a, b, rank")
    args = parser.parse_args()
    if args.cache is not None:
        args.cache.mkdir(parents=True, exist_ok=True)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
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
            per_session = list(pool.map(rows, jobs))
            print(f"({part}) {name}, seeds {seeds.start}-{seeds.stop - 1}")
            for point in ("lowback", "cop"):
                print("   ", figures(per_session, point))
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

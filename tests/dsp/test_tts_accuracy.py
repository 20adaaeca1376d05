"""TTS of simulated landings against the simulator's true settling times, over seeds.

The truth (sim.truth.SETTLING_DEFINITION) is the METRICS.md rule as written applied to the
noiseless transient, with the population threshold of 120 s of noise-only stance: every
excursion counts, late lobes of the transient included. The measurement sees the transient
plus quiet sway and takes its threshold from the session's own quiet holds (three 20-s holds per
side, pooled). Three things keep a measured TTS from its truth:
- the quiet sway at the crossing: its 0.5-s moving RMS fluctuates by ~45 % of its mean, which
  moves the crossing of a transient decaying with tau = 0.3 s by ~0.1 s (1 SD);
- the threshold from 3 x 18 s of slow sway is off by up to ~15 %;
- the 1-s minimum excursion, which removes the quiet sway's late crossings, also passes over a
  late lobe of the transient shorter than 1 s (a few landings come out early).
So a per-landing error within ±0.15 s is what most landings get, not all (the measured shares
are in the asserts); with the threshold of the truth instead of the holds' the shares rise by
5-9 points, which is as far as this rule can go on this sway.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from balancelab.dsp.analysis import AnalysisSettings, analyze_session
from balancelab.sim import AthleteParams, simulate_session

SEEDS = range(8)


@dataclass(frozen=True)
class Landing:
    point: str
    side: str
    measured_s: float | None
    true_s: float


def landings(
    scenario: str,
    seed: int,
    athlete: AthleteParams | None = None,
    settings: AnalysisSettings | None = None,
) -> list[Landing]:
    """Every valid landing's TTS (default method) and its truth, for each tracked point."""
    session, truth = simulate_session(scenario, athlete, seed=seed, internal_fs_hz=400.0)
    out = []
    for rec in analyze_session(session, settings=settings).recordings:
        for result, trial_truth in zip(rec.trials, truth.trials, strict=True):
            landing = trial_truth.landing
            if landing is None or not result.valid:
                continue
            cop = rec.tracked_point == "cop"
            true_s = landing.settling_time_cop_s if cop else landing.settling_time_s
            assert true_s is not None
            out.append(Landing(rec.tracked_point, result.side, result.metrics["tts"].value, true_s))
    return out


def errors(found: list[Landing], point: str) -> np.ndarray:
    """Measured − true (s); a landing the method calls never stabilized counts as +inf."""
    return np.array(
        [
            np.inf if x.measured_s is None else x.measured_s - x.true_s
            for x in found
            if x.point == point
        ]
    )


@pytest.fixture(scope="module")
def by_default() -> list[Landing]:
    found: list[Landing] = []
    for seed in SEEDS:
        found += landings("step_down" if seed % 2 == 0 else "hop_landing", seed)
    return found


@pytest.mark.parametrize(
    ("point", "within_015", "within_05"), [("lowback", 0.7, 0.8), ("cop", 0.7, 0.85)]
)
def test_tts_lies_near_the_true_settling_time(
    by_default: list[Landing], point: str, within_015: float, within_05: float
) -> None:
    """Default method, 8 sessions (step-downs and hops, 80 landings per tracked point).

    Measured over 20 seeds (200 landings per point): lower back 78 % within ±0.15 s, 82 %
    within ±0.25 s, 87 % within ±0.5 s, 5 % off by more than 1 s, median error -0.001 s;
    COP 80 %, 86 %, 93 %, 4 %, median -0.020 s; 1.5 % of landings reported as never stabilized
    (an excursion still above the threshold at the window end), counted here as misses. The
    bounds leave room for 8 seeds' sampling error (a share of 80 landings has an SD of ~4.5
    points, more as landings of one side share their threshold).
    """
    err = errors(by_default, point)
    assert err.size >= 70
    assert abs(float(np.median(err))) <= 0.05
    assert np.mean(np.abs(err) <= 0.15) >= within_015
    assert np.mean(np.abs(err) <= 0.5) >= within_05
    assert np.mean(~np.isfinite(err)) <= 0.05


def test_min_excursion_removes_the_late_outliers_of_the_literal_rule(
    by_default: list[Landing],
) -> None:
    """The METRICS.md rule as written (no minimum excursion) on the same landings.

    Measured over 20 seeds: 48-49 % within ±0.15 s, 36 % off by more than 1 s (95th percentile
    +6.4-6.7 s), from quiet-sway excursions above the threshold late in the window; the
    default: 78-80 % within ±0.15 s, 4-5 % off by more than 1 s.
    """
    literal_settings = replace(AnalysisSettings(), tts_min_excursion_s=0.0)
    literal: list[Landing] = []
    for seed in SEEDS:
        scenario = "step_down" if seed % 2 == 0 else "hop_landing"
        literal += landings(scenario, seed, settings=literal_settings)
    for point in ("lowback", "cop"):
        default_err, literal_err = errors(by_default, point), errors(literal, point)
        assert np.mean(np.abs(literal_err) > 1.0) >= 0.2
        assert np.mean(np.abs(default_err) > 1.0) <= 0.1
        within = np.mean(np.abs(default_err) <= 0.15) - np.mean(np.abs(literal_err) <= 0.15)
        assert within >= 0.15


def test_tts_ranks_athletes_by_their_landing_decay() -> None:
    """Athletes whose landing response decays in 0.3, 0.6 and 1.0 s (truths ~0.8, 1.6, 2.4 s).

    Per session and side, the mean TTS of the five landings (the session value METRICS.md
    reports) ranks the three athletes as the truth does, every time (24 of 24 over 12 seeds).
    """
    for seed in range(4):
        means: dict[str, list[tuple[float, float]]] = {"left": [], "right": []}
        for decay_s in (0.3, 0.6, 1.0):
            found = [
                x
                for x in landings("step_down", seed, AthleteParams(landing_decay_s=decay_s))
                if x.point == "lowback"
            ]
            for side, pairs in means.items():
                own = [x for x in found if x.side == side and x.measured_s is not None]
                assert len(own) >= 4  # of 5: at most one lost to a gap or never stabilized
                pairs.append(
                    (
                        float(np.mean([x.measured_s for x in own])),
                        float(np.mean([x.true_s for x in own])),
                    )
                )
        for pairs in means.values():
            measured, true = zip(*pairs, strict=True)
            assert np.argsort(measured).tolist() == np.argsort(true).tolist() == [0, 1, 2]

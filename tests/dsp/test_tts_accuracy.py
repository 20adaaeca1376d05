"""TTS of simulated landings against the simulator's true settling times, over seeds.

The truth (sim.truth.SETTLING_DEFINITION) is the METRICS.md rule as written applied to the
noiseless transient, with the population threshold of 120 s of noise-only stance. The
measurement sees the transient plus quiet sway and takes its threshold from (a) the session's
quiet holds (three 20-s holds per side, pooled) or (b), in a session of step-downs only, the
stance before each landing of the side (onset + 1 s to impact - 1 s, ~1.6 s each, about the
landing's stable level), pooled: 8 s. Quiet sway at the crossing (its 0.5-s moving RMS varies
by about half its mean), the threshold's own sampling error, and the 1-s minimum excursion
(which passes over a late lobe of the transient shorter than 1 s) keep a TTS from its truth.

CI runs 8 seeds per protocol (80 landings per tracked point) at the simulator's lowest
internal rate to stay within a minute; the bounds below leave room for that sample (a share of
80 landings has an SD of ~5 points). Measured on the recalibrated simulator (commit 152193a,
20 seeds, 200 landings per point, default analysis):
(a) holds:  lower back median |error| 0.050 s, 78 % within ±0.15 s, 97 % within ±0.5 s, 0 %
    never stabilized; COP 0.070 s, 70 %, 87 %, 1 %.
(b) step-downs only: lower back 0.075 s, 62 %, 89 %, 1.5 %; COP 0.11 s, 61 %, 81 %, 1.5 %.
METRICS.md asks for <= 0.05 s, >= 75 %, >= 88 % and <= 2 %: met by the lower back with holds;
not yet by the COP, nor by a session of step-downs only (8 s of pre-landing stance give a
threshold within about ±30 %, the holds' 54 s ±15 %). The asserts pin what is reached.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
from scipy.stats import spearmanr

from balancelab.dsp.analysis import AnalysisSettings, analyze_session
from balancelab.model import Side, TrialType
from balancelab.sim import AthleteParams, Scenario, TrialSpec, simulate_session

SEEDS = range(8)
INTERNAL_FS_HZ = 200.0


@dataclass(frozen=True)
class Landing:
    point: str
    side: str
    measured_s: float | None
    interval_90: tuple[float, float | None] | None
    true_s: float


def step_downs_only() -> Scenario:
    """Five step-downs per side and no holds: the TTS reference is the pre-landing stance."""
    trials = tuple(
        TrialSpec(TrialType.STEP_DOWN, side, duration_s=14.0, rest_after_s=8.0)
        for _ in range(5)
        for side in (Side.LEFT, Side.RIGHT)
    )
    return Scenario("step_downs_only", "step-downs, no holds", trials, task="stepdown")


def landings(
    scenario: Scenario | str,
    seed: int,
    athlete: AthleteParams | None = None,
    settings: AnalysisSettings | None = None,
) -> list[Landing]:
    """Every valid landing's TTS (default method) and its truth, for each tracked point."""
    session, truth = simulate_session(scenario, athlete, seed=seed, internal_fs_hz=INTERNAL_FS_HZ)
    out = []
    for rec in analyze_session(session, settings=settings).recordings:
        for result, trial_truth in zip(rec.trials, truth.trials, strict=True):
            landing = trial_truth.landing
            if landing is None or not result.valid:
                continue
            cop = rec.tracked_point == "cop"
            true_s = landing.settling_time_cop_s if cop else landing.settling_time_s
            assert true_s is not None
            tts = result.metrics["tts"]
            out.append(Landing(rec.tracked_point, result.side, tts.value, tts.interval_90, true_s))
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


def scenario_of(seed: int) -> str:
    return "step_down" if seed % 2 == 0 else "hop_landing"


@pytest.fixture(scope="module")
def with_holds() -> list[Landing]:
    return [x for seed in SEEDS for x in landings(scenario_of(seed), seed)]


@pytest.fixture(scope="module")
def without_holds() -> list[Landing]:
    return [x for seed in SEEDS for x in landings(step_downs_only(), seed)]


@pytest.mark.parametrize(
    ("point", "median_s", "within_015", "within_05"),
    [("lowback", 0.07, 0.7, 0.9), ("cop", 0.1, 0.6, 0.8)],
)
def test_tts_with_holds_lies_near_the_true_settling_time(
    with_holds: list[Landing], point: str, median_s: float, within_015: float, within_05: float
) -> None:
    """(a) Sessions with holds, 8 seeds of step-downs and hops (see the module docstring)."""
    err = errors(with_holds, point)
    assert err.size >= 70
    assert float(np.median(np.abs(err))) <= median_s
    assert np.mean(np.abs(err) <= 0.15) >= within_015
    assert np.mean(np.abs(err) <= 0.5) >= within_05
    assert np.mean(~np.isfinite(err)) <= 0.03


@pytest.mark.parametrize(
    ("point", "within_015", "within_05"), [("lowback", 0.5, 0.8), ("cop", 0.5, 0.7)]
)
def test_tts_of_step_downs_only_uses_the_pooled_pre_landing_stance(
    without_holds: list[Landing], point: str, within_015: float, within_05: float
) -> None:
    """(b) No holds: the pooled pre-landing stance keeps TTS near the truth and a clean landing
    from being called never stabilized (a 2-s per-landing reference about its own mean gave a
    threshold ~0.6 of the truth's and ~19 % never stabilized)."""
    err = errors(without_holds, point)
    assert err.size >= 70
    assert float(np.median(np.abs(err))) <= 0.15
    assert np.mean(np.abs(err) <= 0.15) >= within_015
    assert np.mean(np.abs(err) <= 0.5) >= within_05
    assert np.mean(~np.isfinite(err)) <= 0.05


def coverage_and_width(found: list[Landing], point: str) -> tuple[float, float]:
    """Share of landings whose interval_90 holds the truth, and the median width (s)."""
    inside, widths = [], []
    for x in found:
        if x.point != point or x.interval_90 is None:
            continue
        low, high = x.interval_90
        inside.append(low <= x.true_s and (high is None or x.true_s <= high))
        if high is not None:
            widths.append(high - low)
    return float(np.mean(inside)), float(np.median(widths))


@pytest.mark.parametrize("point", ["lowback", "cop"])
def test_interval_90_covers_the_truth_and_stays_narrow(
    with_holds: list[Landing], without_holds: list[Landing], point: str
) -> None:
    """Measured over 20 seeds (commit 152193a): with holds the interval holds the truth for
    84 % (lower back) and 83 % (COP) of landings, median width 0.4 and 0.6 s; step-downs only
    74-75 %, 0.4 and 0.7 s. METRICS.md asks >= 85 %: not yet met (the late lobes the 1-s
    minimum excursion passes over lie outside it). Every landing with a value has an interval,
    and it holds the value."""
    for found, least in ((with_holds, 0.75), (without_holds, 0.65)):
        own = [x for x in found if x.point == point and x.measured_s is not None]
        assert all(x.interval_90 is not None for x in own)
        for x in own:
            assert x.interval_90 is not None and x.measured_s is not None
            low, high = x.interval_90
            assert low <= x.measured_s and (high is None or x.measured_s <= high)
        coverage, width = coverage_and_width(found, point)
        assert coverage >= least
        assert width <= 1.0
    # some landings are close enough to never settling that the upper end is unbounded (null)
    assert any(x.interval_90[1] is None for x in with_holds + without_holds if x.interval_90)


def test_min_excursion_removes_the_late_outliers_of_the_literal_rule(
    with_holds: list[Landing],
) -> None:
    """The METRICS.md rule as written (no minimum excursion) on the same sessions, 2 seeds:
    quiet-sway excursions above the threshold late in the window make many TTS seconds late."""
    literal_settings = replace(AnalysisSettings(), tts_min_excursion_s=0.0)
    literal = [
        x for seed in range(2) for x in landings(scenario_of(seed), seed, settings=literal_settings)
    ]
    for point in ("lowback", "cop"):
        default_err, literal_err = errors(with_holds, point), errors(literal, point)
        assert np.mean(np.abs(literal_err) > 1.0) >= 0.1
        assert np.mean(np.abs(default_err) > 1.0) <= 0.1


def test_session_means_rank_athletes_by_their_landing_decay() -> None:
    """Step-downs only, athletes whose landing response decays in 0.2, 0.5 and 1.0 s, two seeds.

    Lower back: per seed and side, the session mean TTS (the value METRICS.md reports) orders
    the athletes as their decay does (Spearman 1 each time). COP: on the recalibrated simulator
    the COP's true settling time depends little on this decay (session means 1.1-1.7 s; the
    truth's own Spearman with the decay is ~0.9), so its session means are held to the truth's
    ranking instead: Spearman 0.73 over these 12 session sides, so METRICS.md's 0.95 is not met
    for the COP (the bound pins what is reached)."""
    decays = (0.2, 0.5, 1.0)
    cop: list[tuple[float, float]] = []
    for seed in (100, 101):
        found = {
            d: landings(step_downs_only(), seed, AthleteParams(landing_decay_s=d)) for d in decays
        }
        for side in ("left", "right"):
            back: list[tuple[float, float]] = []
            for decay_s in decays:
                for point in ("lowback", "cop"):
                    own = [x for x in found[decay_s] if x.point == point and x.side == side]
                    values = [x.measured_s for x in own if x.measured_s is not None]
                    assert len(values) >= 4
                    pair = (float(np.mean(values)), float(np.mean([x.true_s for x in own])))
                    (back if point == "lowback" else cop).append(pair)
            assert spearmanr([m for m, _ in back], decays).statistic == pytest.approx(1.0)
    measured, true = zip(*cop, strict=True)
    assert spearmanr(measured, true).statistic >= 0.6

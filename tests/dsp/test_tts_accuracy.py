"""TTS of simulated landings against the simulator's true settling times, over seeds.

The truth (sim.truth.SETTLING_DEFINITION) is the METRICS.md rule as written applied to the
noiseless transient, with the population threshold of 120 s of noise-only stance. The
measurement sees the transient plus quiet sway and takes its threshold from (a) the session's
quiet holds (three 20-s holds per side, pooled) or (b), in the `step_down_only` scenario, the
stance before each landing of the side (onset + 1 s to impact - 1 s, about the landing's stable
level), pooled. Quiet sway at the crossing (its 0.5-s moving RMS varies by about half its
mean), the threshold's own sampling error, and the 1-s minimum excursion (which passes over a
late lobe of the transient shorter than 1 s) keep a TTS from its truth.

CI runs 8 seeds per protocol (80 landings per tracked point) at the simulator's lowest
internal rate to stay within a few minutes. METRICS.md's bounds are asserted where they are met
on both 20-seed sets below with room for this smaller sample: within ±0.5 s at the lower back
(>= 88 %) and never stabilized (<= 2 %) at both points; the session means' ranking (Spearman
>= 0.95) in its own test. The rest are pinned at what is reached (a share of 80 landings has an
SD of ~5 points). `python -m benchmarks.tts_accuracy`, 20 seeds, 200 landings per point, with
the 90 % interval of each figure from a bootstrap over the sessions:
                          median |err| (s)     ±0.15 s             ±0.5 s   coverage
seeds 0-19      (a) lower back 0.055 [0.048-0.075] 74.0 % [68.5-79.0] 96.5 %   82.5 % [77.0-88.0]
                    COP        0.075 [0.062-0.097] 67.5 % [61.5-73.5] 87.0 %   83.0 % [77.5-88.0]
                (b) lower back 0.055 [0.040-0.070] 76.0 % [69.5-82.0] 96.0 %   84.0 % [79.5-88.0]
                    COP        0.085 [0.070-0.115] 63.5 % [57.5-68.5] 87.0 %   77.5 % [73.5-81.5]
seeds 1000-1019 (a) lower back 0.050 [0.045-0.065] 77.9 % [73.4-82.1] 95.5 %   85.4 % [81.5-88.9]
                    COP        0.073 [0.060-0.080] 74.0 % [69.5-78.5] 92.5 %   84.0 % [80.5-88.0]
                (b) lower back 0.040 [0.032-0.050] 80.4 % [74.5-86.0] 97.5 %   85.4 % [80.5-89.9]
                    COP        0.090 [0.078-0.118] 65.5 % [57.0-73.5] 88.0 %   81.0 % [76.5-85.5]
never stabilized 0-1 % everywhere. METRICS.md asks <= 0.05 s, >= 75 %, >= 88 %, >= 85 %.
At the lower back every figure not met on one set is met on the other, and each set's 90 %
interval holds the bound: 20 seeds do not decide them (both sets pooled, 40 seeds: (a) 0.055 s,
75.9 %, 84.0 %; (b) 0.045 s, 78.2 %, 84.7 %). Two causes outside the estimator move them:
- the truth's settling band comes from the unfiltered 200-Hz quiet stance, while the method
  sees body acceleration after METRICS.md's 3.5-Hz low-pass: the band the method can see is
  0.89 of the truth's, so TTS is late by a median 0.025 s and the interval misses the truth
  mostly below its lower end (26 of 35 misses in (a), by a median 0.035 s). Against a truth
  whose quiet stance and transient pass the same low-pass the signed error is 0.002 s ((b):
  -0.012 s) and the coverage 85.5 % on seeds 0-19 (the COP's 10-Hz low-pass changes its band
  by < 0.2 %);
- the median |error| is the spread of the crossing, not a bias: 0.055-0.06 s on seeds 0-19
  against either truth.
The COP's misses are whole lobes: the noiseless COP envelope has lobes every 0.75 s (the
pendulum's return), 74 % of landings have a late lobe peaking at 0.6-1.5 x the band, and 84 %
of the COP errors beyond ±0.3 s are at such a lobe: the sway of that moment decides whether it
crosses the threshold (errors pile up at -0.7..-0.5 s and +0.3..+0.7 s).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
from scipy.stats import spearmanr

from balancelab.dsp.analysis import AnalysisSettings, analyze_session
from balancelab.sim import AthleteParams, Scenario, simulate_session

SEEDS = range(8)
INTERNAL_FS_HZ = 200.0
# science/METRICS.md "Validation targets" (TTS) that are met (see the module docstring)
TARGET_WITHIN_05 = 0.88
TARGET_NEVER_STABILIZED = 0.02
TARGET_SPEARMAN = 0.95


@dataclass(frozen=True)
class Landing:
    point: str
    side: str
    measured_s: float | None
    interval_90: tuple[float, float | None] | None
    true_s: float


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
    return [x for seed in SEEDS for x in landings("step_down_only", seed)]


@pytest.mark.parametrize(
    ("point", "median_s", "within_015", "within_05"),
    [("lowback", 0.07, 0.7, TARGET_WITHIN_05), ("cop", 0.1, 0.6, 0.8)],
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
    assert np.mean(~np.isfinite(err)) <= TARGET_NEVER_STABILIZED


@pytest.mark.parametrize(
    ("point", "median_s", "within_015", "within_05"),
    [("lowback", 0.07, 0.7, TARGET_WITHIN_05), ("cop", 0.1, 0.6, 0.75)],
)
def test_tts_of_step_downs_only_uses_the_pooled_pre_landing_stance(
    without_holds: list[Landing], point: str, median_s: float, within_015: float, within_05: float
) -> None:
    """(b) No holds: the pooled pre-landing stance (5 landings x ~3.6 s) keeps TTS as near the
    truth as the holds do (8 seeds: lower back 0.040 s, 75 %, 95 %; COP 0.085 s, 70 %, 82.5 %)
    and no clean landing is called never stabilized (a 2-s per-landing reference about its own
    mean gave a threshold ~0.6 of the truth's and ~19 % never stabilized; 3 s of stance before
    the movement, 1.5 %). The bounds are those of (a) but the COP's ±0.5 s: 82.5 % on these 80
    landings, 87 % over 20 seeds."""
    err = errors(without_holds, point)
    assert err.size >= 70
    assert float(np.median(np.abs(err))) <= median_s
    assert np.mean(np.abs(err) <= 0.15) >= within_015
    assert np.mean(np.abs(err) <= 0.5) >= within_05
    assert np.mean(~np.isfinite(err)) <= TARGET_NEVER_STABILIZED


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
    """Measured over 20 seeds (0-19): with holds the interval holds the truth for 82.5 % (lower
    back) and 83 % (COP) of landings, median width 0.43 and 0.59 s; step-downs only 84 % and
    77.5 %, 0.43 and 0.58 s; seeds 1000-1019: 85.4/84 % and 85.4/81 %, 0.42/0.62 and 0.44/0.70
    s. On the 8 seeds here: 80/85 % and 85/80 %. METRICS.md asks >= 85 %: met at the lower back
    on one set only. Lower back: most misses lie below the lower end by ~0.035 s, the lateness
    the truth's unfiltered band gives (module docstring); COP: the crossing moved by a whole
    lobe of the transient (~0.5-0.75 s), more than the re-drawn sway moves it in 95 % of the
    replicates (400 or 1000 replicates instead of 100 gave 83-84.5 %, not 85 %). Every landing
    with a value has an interval, and it holds the value."""
    for found, least in ((with_holds, 0.75), (without_holds, 0.72)):
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


def test_session_means_rank_athletes_by_their_landing_control() -> None:
    """Step-downs only, athletes of landing_control 0.5, 0.75 and 1.0, two seeds.

    A less controlled lander reaches the ground with more sway and absorbs it more slowly
    (AthleteParams.landing_control scales the initial sway and the segmental decay), so a slower
    landing shows at both tracked points. Per seed and side, the session mean TTS (the value
    METRICS.md reports) orders the athletes as their control does: Spearman 1 for the lower
    back and the COP on seeds 100-103 (benchmarks/tts_accuracy.py; the truth's own session means
    give 1 and 0.94 on average there). Old: varying landing_decay_s alone, the COP's truth hardly
    moved and its session means reached 0.73 (METRICS.md asks >= 0.95). landing_control 1.2
    and more bring emergent touch-downs after the landing (a failed landing), so the range
    stops at the default athlete."""
    controls = (0.5, 0.75, 1.0)
    for seed in (100, 101):
        found = {
            c: landings("step_down_only", seed, AthleteParams(landing_control=c)) for c in controls
        }
        for side in ("left", "right"):
            for point in ("lowback", "cop"):
                means = []
                for control in controls:
                    own = [x for x in found[control] if x.point == point and x.side == side]
                    values = [x.measured_s for x in own if x.measured_s is not None]
                    assert len(values) >= 4
                    means.append(float(np.mean(values)))
                # three athletes: >= 0.95 is the exact order (the next value is 0.5)
                assert spearmanr(means, controls).statistic >= TARGET_SPEARMAN

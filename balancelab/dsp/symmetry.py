"""Per-side session values and left/right asymmetry, with an MDC-based flag.

Per condition (trial_type/surface/vision) and side the session value of a metric is the mean of
its valid trials' values (science/METRICS.md); fewer than 3 holds or 5 landings raise a
`too_few_trials` flag.

Asymmetry of a metric with session values L and R (both > 0):
- percent: 100·(R − L)/max(R, L) — positive when the right side scores higher;
- log ratio: ln(R/L).
It is flagged only when it exceeds the minimal detectable change of a single-session L − R
difference. Each side's session value carries a typical error TE (log scale, from a CV:
TE = ln(1 + CV/100)); the two errors are independent, so the difference ln R − ln L has SD
√(TE_L² + TE_R²) and MDC95 = 1.96·√(TE_L² + TE_R²), which is 2.77·TE when both sides share TE
(the MDC95 = 2.77·TE of METRICS.md). The flag is |ln(R/L)| > MDC95; in the metric's unit that is
|R − L| > max(R, L)·(1 − e^(−MDC95)), reported as `mdc95` (unit of the metric) and
`mdc95_pct` (the same threshold on |asymmetry %|: 100·(1 − e^(−MDC95))).
CV: the athlete's own (per metric key) when known, else the defaults of
progression-research.md §3.2: velocity/path 10 %, area 20 %, TTS 15 %; other metrics have no
default and are never flagged (`flagged` None).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from balancelab.dsp.quality import detect_too_few_trials
from balancelab.model import (
    Asymmetry,
    ConditionSummary,
    Metric,
    QualityCode,
    QualityFlag,
    Side,
    SideValue,
    Surface,
    TrialType,
    Vision,
    check_positive,
    make_flag,
)

MDC_Z = 1.96
DEFAULT_CV_PCT: Mapping[str, float] = {
    "mean_velocity": 10.0,
    "path_length": 10.0,
    "sway_area_95": 20.0,
    "tts": 15.0,
}
HOLD_TYPES = (TrialType.SINGLE_LEG_HOLD, TrialType.DOUBLE_LEG_HOLD)
LANDING_TYPES = (TrialType.STEP_DOWN, TrialType.HOP_STABILIZE)
MIN_HOLDS = 3
MIN_LANDINGS = 5


class SideTrial(Protocol):
    """What the aggregation needs of an analysed trial (model.TrialAnalysis has it)."""

    @property
    def trial_type(self) -> TrialType: ...
    @property
    def side(self) -> Side: ...
    @property
    def surface(self) -> Surface: ...
    @property
    def vision(self) -> Vision: ...
    @property
    def valid(self) -> bool: ...
    @property
    def metrics(self) -> Mapping[str, Metric]: ...


# ---------------------------------------------------------------- formulas


def asymmetry_percent(left: float, right: float) -> float | None:
    """100·(R − L)/max(R, L) in %; None when max(R, L) <= 0 (undefined)."""
    top = max(left, right)
    return 100.0 * (right - left) / top if top > 0 else None


def log_ratio(left: float, right: float) -> float | None:
    """ln(R/L); None unless both are > 0."""
    return math.log(right / left) if left > 0 and right > 0 else None


def typical_error_log(cv_pct: float) -> float:
    """Typical error on the log scale from a CV in %: ln(1 + CV/100)."""
    return math.log1p(check_positive("cv_pct", cv_pct, "%") / 100.0)


def mdc95_log_difference(cv_left_pct: float, cv_right_pct: float | None = None) -> float:
    """MDC95 of ln R − ln L in one session: 1.96·√(TE_L² + TE_R²) (= 2.77·TE if equal)."""
    te_left = typical_error_log(cv_left_pct)
    te_right = typical_error_log(cv_right_pct if cv_right_pct is not None else cv_left_pct)
    return MDC_Z * math.hypot(te_left, te_right)


def compute_asymmetry(left: float, right: float, cv_pct: float | None) -> Asymmetry:
    """Asymmetry of two session values with its MDC flag (`cv_pct` None: never flagged)."""
    percent, ratio = asymmetry_percent(left, right), log_ratio(left, right)
    if ratio is None:
        flag = make_flag(QualityCode.OUT_OF_RANGE, "asymmetry needs both sides > 0")
        return Asymmetry(percent, None, None, None, cv_pct, None, (flag,))
    if cv_pct is None:
        return Asymmetry(percent, ratio, None, None, None, None)
    mdc_log = mdc95_log_difference(cv_pct)
    mdc_pct = 100.0 * (1.0 - math.exp(-mdc_log))
    mdc_units = max(left, right) * mdc_pct / 100.0
    return Asymmetry(percent, ratio, mdc_units, mdc_pct, cv_pct, abs(ratio) > mdc_log)


# ---------------------------------------------------------------- aggregation


def condition_key(trial: SideTrial) -> str:
    """`<trial_type>/<surface>/<vision>`, the summary key of METRICS.md."""
    return f"{trial.trial_type}/{trial.surface}/{trial.vision}"


def minimum_trials(trial_type: TrialType) -> int:
    """Recommended valid trials per side: 3 for holds, 5 for landings (1 otherwise)."""
    if trial_type in LANDING_TYPES:
        return MIN_LANDINGS
    return MIN_HOLDS if trial_type in HOLD_TYPES else 1


def side_value(metrics: Sequence[Metric], minimum: int) -> SideValue:
    """Mean of the metrics that have a value; `too_few_trials` when fewer than `minimum`."""
    values = [m.value for m in metrics if m.value is not None]
    unit = metrics[0].unit if metrics else ""
    flag = detect_too_few_trials(len(values), minimum)
    flags: tuple[QualityFlag, ...] = (flag,) if flag is not None else ()
    methods = {m.method for m in metrics}
    if len(methods) > 1:
        flags += (make_flag(QualityCode.OUT_OF_RANGE, f"mixed methods {sorted(methods)}"),)
        return SideValue(None, unit, len(values), flags)
    mean = math.fsum(values) / len(values) if values else None
    return SideValue(mean, unit, len(values), flags)


def summarize_condition(
    trials: Sequence[SideTrial], typical_cv_pct: Mapping[str, float] | None = None
) -> ConditionSummary:
    """Per-side values of every metric key of the valid `trials`, and L/R asymmetry."""
    minimum = minimum_trials(trials[0].trial_type) if trials else 1
    by_side: dict[Side, dict[str, list[Metric]]] = {}
    for trial in trials:
        per_side = by_side.setdefault(trial.side, {})
        for key, metric in trial.metrics.items():
            per_side.setdefault(key, [])
            if trial.valid:
                per_side[key].append(metric)
    sides = {
        side: {key: side_value(ms, minimum) for key, ms in keys.items()}
        for side, keys in by_side.items()
    }
    cvs = {**DEFAULT_CV_PCT, **(typical_cv_pct or {})}
    asymmetry: dict[str, Asymmetry] = {}
    left, right = sides.get(Side.LEFT, {}), sides.get(Side.RIGHT, {})
    for key in left.keys() & right.keys():
        lv, rv = left[key].value, right[key].value
        if lv is not None and rv is not None:
            asymmetry[key] = compute_asymmetry(lv, rv, cvs.get(key))
    return ConditionSummary(sides, dict(sorted(asymmetry.items())))


def summarize(
    trials: Iterable[SideTrial], typical_cv_pct: Mapping[str, float] | None = None
) -> dict[str, ConditionSummary]:
    """The session `summary`: one ConditionSummary per `<trial_type>/<surface>/<vision>`.

    `typical_cv_pct` holds the athlete's own CVs (%) per metric key when known.
    """
    groups: dict[str, list[SideTrial]] = {}
    for trial in trials:
        if trial.trial_type is TrialType.CALIBRATION:
            continue
        groups.setdefault(condition_key(trial), []).append(trial)
    return {key: summarize_condition(group, typical_cv_pct) for key, group in groups.items()}

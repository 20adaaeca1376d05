"""Analysis results: metrics, analysed trials, per-side summaries, recordings and sessions.

A `Metric` is what `balancelab analyze --json` prints per metric key (science/METRICS.md). A value
is either a finite float or None; None always comes with at least one quality flag saying why. A
metric may carry `interval_90` = (low, high), a 90 % interval of the value in its unit (`high` None
when the upper end is unbounded, e.g. a TTS that may never stabilize). Each result gives its own
JSON (`to_dict`); the document around the sessions is `balancelab.engine.analyze`'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from balancelab.errors import InvalidArgumentError
from balancelab.model.quality import QualityFlag
from balancelab.model.recording import Outcome, Side, Surface, TrialType, Vision

SettingValue = str | int | float | bool | None | tuple[float, ...]
JsonValue = (
    str
    | int
    | float
    | bool
    | None
    | list[float]
    | list[float | None]
    | list[dict[str, str]]
    | dict[str, object]
)
Interval = tuple[float, float | None]
ANALYSIS_SCHEMA = "balancelab.analysis/1"
"""The `schema` of an analysis document: its major number changes only when a key changes
meaning or disappears (science/METRICS.md)."""
ANALYSIS_SCHEMA_FILE = "analysis-1.schema.json"
"""The JSON Schema of that document, shipped in this package (`importlib.resources`)."""


def settings_json(settings: Mapping[str, SettingValue]) -> dict[str, object]:
    """Settings as JSON: tuples become lists."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}


@dataclass(frozen=True)
class Metric:
    """One measured quantity with everything needed to compare it honestly.

    `settings` holds the parameters that produced it (fs, n, method options …); the caller adds
    its own (filter, detrend, window) with `with_settings`. `details` holds companion numbers, e.g.
    the ellipse's semi-axes and orientation.
    """

    value: float | None
    unit: str
    method: str
    settings: Mapping[str, SettingValue] = field(default_factory=dict)
    quality: tuple[QualityFlag, ...] = ()
    details: Mapping[str, float] = field(default_factory=dict)
    interval_90: Interval | None = None

    def __post_init__(self) -> None:
        if self.value is not None:
            number = float(self.value)
            if not math.isfinite(number):
                raise InvalidArgumentError(
                    f"Metric value must be finite or None, got {self.value!r} ({self.method})"
                )
            object.__setattr__(self, "value", number)
        elif not self.quality:
            raise InvalidArgumentError(f"Metric {self.method!r} without a value needs a flag")
        if any(not math.isfinite(v) for v in self.details.values()):
            raise InvalidArgumentError(f"Metric details must be finite, got {dict(self.details)}")
        if self.interval_90 is not None:
            low, high = self.interval_90
            if not math.isfinite(low) or (high is not None and not low <= high < math.inf):
                raise InvalidArgumentError(
                    f"Metric interval_90 must be low <= high, both finite (high may be None), "
                    f"got {self.interval_90}"
                )
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    @property
    def ok(self) -> bool:
        """True when there is a value (there may still be warning flags)."""
        return self.value is not None

    def with_flags(self, *flags: QualityFlag | None) -> Metric:
        """A copy with `flags` appended (None entries, as returned by checks, are skipped)."""
        extra = tuple(f for f in flags if f is not None and f not in self.quality)
        return replace(self, quality=self.quality + extra)

    def with_settings(self, **settings: SettingValue) -> Metric:
        """A copy whose settings also hold `settings` (e.g. filter and window of the caller)."""
        return replace(self, settings={**self.settings, **settings})

    def to_dict(self) -> dict[str, JsonValue]:
        """The metric's JSON (science/METRICS.md): value, unit and method, and settings,
        quality, details and interval_90 when there are any."""
        out: dict[str, JsonValue] = {"value": self.value, "unit": self.unit, "method": self.method}
        if self.settings:
            out["settings"] = settings_json(self.settings)
        if self.quality:
            out["quality"] = [f.to_dict() for f in self.quality]
        if self.details:
            out["details"] = dict(self.details)
        if self.interval_90 is not None:
            out["interval_90"] = list(self.interval_90)
        return out


@dataclass(frozen=True)
class SideValue:
    """A side's session value of one metric: mean of `n` valid trial values (None if n = 0)."""

    value: float | None
    unit: str
    n: int
    quality: tuple[QualityFlag, ...] = ()

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"value": self.value, "unit": self.unit, "n": self.n}
        if self.quality:
            out["quality"] = [f.to_dict() for f in self.quality]
        return out


@dataclass(frozen=True)
class Asymmetry:
    """Left/right asymmetry of one metric (see the module docstring for the definitions)."""

    percent: float | None
    log_ratio: float | None
    mdc95: float | None
    mdc95_pct: float | None
    cv_pct: float | None
    flagged: bool | None
    quality: tuple[QualityFlag, ...] = ()

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "value": self.percent,
            "unit": "%",
            "flagged": self.flagged,
            "mdc95": self.mdc95,
            "mdc95_pct": self.mdc95_pct,
        }
        if self.quality:
            out["quality"] = [f.to_dict() for f in self.quality]
        return out


@dataclass(frozen=True)
class ConditionSummary:
    """One condition: per-side values per metric key, and the asymmetry where both sides exist."""

    sides: Mapping[Side, Mapping[str, SideValue]]
    asymmetry: Mapping[str, Asymmetry] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            str(side): {k: v.to_dict() for k, v in values.items()}
            for side, values in self.sides.items()
        }
        if self.asymmetry:
            out["asymmetry"] = {k: a.to_dict() for k, a in self.asymmetry.items()}
            out["asymmetry_log_ratio"] = {
                k: {"value": a.log_ratio, "unit": "1"} for k, a in self.asymmetry.items()
            }
        return out


@dataclass(frozen=True)
class TrialAnalysis:
    """One analysed trial: the events.tsv row, validity, flags, touch-downs and metrics.

    `impact_s` is a landing's impact (session clock, s, to 0.1 ms) when one was found; the
    other sensors of the session time the landing from it.
    """

    onset_s: float
    duration_s: float
    trial_type: TrialType
    side: Side
    surface: Surface
    vision: Vision
    outcome: Outcome
    valid: bool
    quality: tuple[QualityFlag, ...]
    touchdowns_s: tuple[float, ...]
    settings: Mapping[str, SettingValue]
    metrics: Mapping[str, Metric]
    impact_s: float | None = None

    def to_dict(self) -> dict[str, object]:
        """The trial's JSON (science/METRICS.md)."""
        out: dict[str, object] = {"onset_s": self.onset_s, "duration_s": self.duration_s}
        for key in ("trial_type", "side", "surface", "vision", "outcome"):
            out[key] = str(getattr(self, key))
        out["valid"] = self.valid
        out["quality"] = [f.to_dict() for f in self.quality]
        out["touchdowns_s"] = list(self.touchdowns_s)
        out["settings"] = settings_json(self.settings)
        out["metrics"] = {k: m.to_dict() for k, m in self.metrics.items()}
        return out


@dataclass(frozen=True)
class RecordingAnalysis:
    """All trials of one recording and the per-condition summary."""

    tracksys: str
    tracked_point: str
    trials: tuple[TrialAnalysis, ...]
    summary: Mapping[str, ConditionSummary]
    quality: tuple[QualityFlag, ...] = ()
    """Flags of the stream as a whole (e.g. `rate_mismatch`)."""
    nominal_fs_hz: float | None = None
    time_fs_hz: float | None = None
    """The sidecar's SamplingFrequency and the median rate of the time column (Hz)."""

    def stream_json(self) -> dict[str, object]:
        """The stream's own entry: tracked point, both rates (Hz) and its quality flags."""
        return {
            "tracked_point": self.tracked_point,
            "sampling_frequency_hz": self.nominal_fs_hz,
            "time_column_fs_hz": self.time_fs_hz,
            "quality": [f.to_dict() for f in self.quality],
        }

    def to_json_dict(self) -> dict[str, object]:
        """Exactly `{"trials": [...], "summary": {...}}` of science/METRICS.md."""
        return {
            "trials": [t.to_dict() for t in self.trials],
            "summary": {k: s.to_dict() for k, s in self.summary.items()},
        }


@dataclass(frozen=True)
class SessionAnalysis:
    """One RecordingAnalysis per sensor of a session."""

    recordings: tuple[RecordingAnalysis, ...]

    def to_json_dict(self) -> dict[str, object]:
        """`{"trials": [...], "summary": {tracksys: {...}}, "streams": {tracksys: {...}}}`;
        trials carry their tracksys; `streams` the flags of each stream as a whole."""
        trials = [
            {"tracksys": r.tracksys, "tracked_point": r.tracked_point, **t.to_dict()}
            for r in self.recordings
            for t in r.trials
        ]
        summary = {r.tracksys: r.to_json_dict()["summary"] for r in self.recordings}
        streams = {r.tracksys: r.stream_json() for r in self.recordings}
        return {"trials": trials, "summary": summary, "streams": streams}

"""The analysis settings: every parameter, recorded with each trial's result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from balancelab.dsp import stabilization
from balancelab.dsp.quality import RATE_TOLERANCE
from balancelab.model import SettingValue

ANALYSIS_VERSION = "3"
"""Changes whenever a setting's default or a method changes a number."""


@dataclass(frozen=True)
class AnalysisSettings:
    """Every parameter of the analysis (recorded with each trial's result)."""

    fs_hz: float = 100.0
    max_gap_s: float = 0.1
    filter_order: int = 4
    cop_cutoff_hz: float = 10.0
    board_cutoff_hz: float = 10.0
    body_cutoff_hz: float = 3.5
    hold_skip_s: float = 2.0
    hold_max_s: float = 30.0
    landing_max_s: float = 10.0
    min_window_s: float = 5.0
    gap_min_covered: float = 0.8
    gap_min_segment_s: float = 10.0
    landing_gap_free_s: float = 3.0
    tts_method: stabilization.TtsMethod = "moving_rms"
    tts_window_s: float = 0.5
    tts_k_sd: float = 3.0
    tts_min_excursion_s: float = stabilization.DEFAULT_MIN_EXCURSION_S
    tilt_method: str = "mahony"
    board_max_tilt_deg: float = 15.0
    acc_range_ms2: float | None = None
    # A trial may leave the samples or overlap its neighbour by this much (s) without a flag:
    # events.tsv times are rounded, and a shorter stretch is not even a gap (max_gap_s).
    trial_tolerance_s: float = 0.1
    rate_tolerance: float = RATE_TOLERANCE
    typical_cv_pct: Mapping[str, float] = field(default_factory=dict)

    def record(self) -> dict[str, SettingValue]:
        """The settings as stored with a result."""
        out: dict[str, SettingValue] = {"version": ANALYSIS_VERSION}
        out.update({k: v for k, v in asdict(self).items() if k != "typical_cv_pct"})
        return out

"""Quality flags: a machine-readable code with a sentence a person can read.

A flag says why a value is missing or doubtful; it never replaces the value by a guess. The
checks that raise flags on arrays are in `balancelab.dsp.quality`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class QualityCode(StrEnum):
    """Machine-readable reasons attached to a result (`{"code", "message"}` in the JSON)."""

    GAP = "gap"
    SATURATION = "saturation"
    TOO_SHORT = "too_short"
    NOT_STILL_AT_START = "not_still_at_start"
    NEVER_STABILIZED = "never_stabilized"
    TOO_FEW_TRIALS = "too_few_trials"
    NAN_INPUT = "nan_input"
    NO_VARIATION = "no_variation"
    OUT_OF_RANGE = "out_of_range"
    GAP_SPLIT = "gap_split"
    GAP_TRUNCATED = "gap_truncated"
    IMPLAUSIBLE = "implausible"
    SHORT_REFERENCE = "short_reference"
    REFERENCE_FALLBACK = "reference_fallback"
    OVERLAP = "overlap"
    OUTSIDE_RECORDING = "outside_recording"
    RATE_MISMATCH = "rate_mismatch"


MESSAGES: Mapping[QualityCode, str] = {
    QualityCode.GAP: "samples are missing for longer than the allowed gap",
    QualityCode.SATURATION: "the sensor reached its measuring range (clipped samples)",
    QualityCode.TOO_SHORT: "too few samples or too short a window for this measure",
    QualityCode.NOT_STILL_AT_START: "the sensor was not still at the start of the trial",
    QualityCode.NEVER_STABILIZED: "the signal never settled below the threshold in the window",
    QualityCode.TOO_FEW_TRIALS: "fewer valid trials than recommended for a session value",
    QualityCode.NAN_INPUT: "the input contains missing (NaN) or infinite samples",
    QualityCode.NO_VARIATION: "the signal does not vary (constant), so this is undefined or zero",
    QualityCode.OUT_OF_RANGE: "values beyond the floating-point range of this computation",
    QualityCode.GAP_SPLIT: "gaps in the window: analysed over its gap-free segments",
    QualityCode.GAP_TRUNCATED: "a gap ends the analysed window early",
    QualityCode.IMPLAUSIBLE: "far outside what a person standing can produce: not a balance trial",
    QualityCode.SHORT_REFERENCE: "the pooled quiet reference is short, so its threshold is rough",
    QualityCode.REFERENCE_FALLBACK: "no quiet stance to compare with: the threshold is a fallback",
    QualityCode.OVERLAP: "the trial overlaps another trial in events.tsv, so whose samples these"
    " are is unknown: not analysed",
    QualityCode.OUTSIDE_RECORDING: "the trial lies partly or wholly outside the recorded samples:"
    " not analysed",
    QualityCode.RATE_MISMATCH: "the sampling rate in motion.json disagrees with the time stamps;"
    " the time stamps are used",
}


@dataclass(frozen=True)
class QualityFlag:
    """One quality remark: a code and a sentence a person can read."""

    code: QualityCode
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": str(self.code), "message": self.message}


def make_flag(code: QualityCode, detail: str = "") -> QualityFlag:
    """The flag for `code`, its standard message extended by `detail` when given."""
    message = MESSAGES[code] + (f" ({detail})" if detail else "")
    return QualityFlag(code, message)

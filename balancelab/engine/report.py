"""Plain-text report of an analysis for coaches and physios: 80 columns, coach units, words.

Display only: `--json` keeps the units of science/METRICS.md. Here COP sway area is in cm²
(the JSON's mm² / 100), COP velocity in mm/s, board tilt in deg; body-acceleration metrics keep
m/s². A trial takes two lines (a head line, then its indented metrics and flags in short words);
the per-side summary says each asymmetry in words ("left 43 % worse than right, beyond the
test's noise (MDC 23 %)") and marks a mean from fewer trials than recommended. Every character is
in cp1252 as well as UTF-8, so a Windows console or a redirected file can take it.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Mapping, Sequence

from balancelab.dsp.symmetry import LANDING_TYPES, condition_key, minimum_trials
from balancelab.engine.analyze import AnalysedSession
from balancelab.model import (
    Asymmetry,
    Metric,
    QualityCode,
    QualityFlag,
    RecordingAnalysis,
    Side,
    SideValue,
    TrialAnalysis,
    TrialType,
)

WIDTH = 80
HOLD_KEYS = (
    "sway_area_95",
    "mean_velocity",
    "stability_index",
    "time_in_zone",
    "edge_contacts",
    "touchdowns",
)
LANDING_KEYS = ("tts", "peak_acc", "dpsi")
SUMMARY_KEYS = ("sway_area_95", "mean_velocity", "stability_index", "time_in_zone", "tts")
HIGHER_IS_BETTER = frozenset({"time_in_zone"})
"""Summary metrics where a higher value is better; for the others (sway, TTS) higher is worse."""

LABELS: Mapping[str, str] = {
    "sway_area_95": "sway area",
    "mean_velocity": "velocity",
    "stability_index": "stability index",
    "time_in_zone": "time in zone",
    "edge_contacts": "edge contacts",
    "touchdowns": "touch-downs",
    "tts": "TTS",
    "peak_acc": "peak acc",
    "dpsi": "DPSI",
}
DISPLAY_UNITS: Mapping[str, tuple[str, float]] = {
    "mm^2": ("cm²", 0.01),
    "m^2/s^4": ("(m/s²)²", 1.0),
    "m^2/s^6": ("(m/s³)²", 1.0),
    "m/s^2": ("m/s²", 1.0),
    "m/s^3": ("m/s³", 1.0),
    "deg^2": ("deg²", 1.0),
    "count": ("", 1.0),
    "1": ("", 1.0),
}
"""Unit of the analysis -> (unit shown, factor); units not listed are shown as they are."""
WORDS: Mapping[str, str] = {
    "single_leg_hold": "single-leg hold",
    "double_leg_hold": "double-leg hold",
    "step_down": "step-down",
    "hop_stabilize": "hop-stabilize",
}
POINTS: Mapping[str, str] = {"cop": "centre of pressure", "lowback": "lower back"}
SHORT_FLAGS: Mapping[QualityCode, str] = {
    QualityCode.GAP: "gap",
    QualityCode.SATURATION: "clipped",
    QualityCode.TOO_SHORT: "too short",
    QualityCode.NOT_STILL_AT_START: "not still at start",
    QualityCode.NEVER_STABILIZED: "never settled",
    QualityCode.TOO_FEW_TRIALS: "too few trials",
    QualityCode.NAN_INPUT: "missing samples",
    QualityCode.NO_VARIATION: "no movement",
    QualityCode.OUT_OF_RANGE: "out of range",
    QualityCode.GAP_SPLIT: "gap (split)",
    QualityCode.GAP_TRUNCATED: "gap (cut short)",
    QualityCode.IMPLAUSIBLE: "implausible",
    QualityCode.SHORT_REFERENCE: "short reference",
    QualityCode.REFERENCE_FALLBACK: "fallback threshold",
    QualityCode.OVERLAP: "overlaps another trial, not analysed",
    QualityCode.OUTSIDE_RECORDING: "outside the recording, not analysed",
    QualityCode.RATE_MISMATCH: "sampling rate disagrees with the time stamps",
}


# ---------------------------------------------------------------- numbers, units, flags


def format_number(value: float) -> str:
    """About 3 significant digits, never in exponent notation ('0.704', '39.0', '3899')."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = 2 - math.floor(math.log10(abs(value)))
    return f"{value:.3g}" if decimals > 5 else f"{value:.{max(decimals, 0)}f}"


def display_value(value: float, unit: str) -> str:
    """A value in the unit a coach reads (cm² for COP area, see DISPLAY_UNITS), with its unit."""
    shown, factor = DISPLAY_UNITS.get(unit, (unit, 1.0))
    if unit == "count":
        return f"{value:.0f}"
    number = f"{value:.2f}" if unit == "s" else format_number(value * factor)
    return f"{number} {shown}".rstrip()


def format_value(value: float | None, unit: str) -> str:
    """`display_value`, or '-' when there is no value."""
    return "-" if value is None else display_value(value, unit)


def describe_flag(flag: QualityFlag) -> str:
    """A flag in a few words: 'gap (split, 99 % kept)', 'gap (cut at 4.85 s)', 'clipped'."""
    kept = re.search(r"([\d.]+)% of the window", flag.message)
    if flag.code is QualityCode.GAP_SPLIT and kept:
        return f"gap (split, {math.floor(float(kept.group(1))):d} % kept)"
    cut = re.search(r"at ([\d.]+ s) after", flag.message)
    if flag.code is QualityCode.GAP_TRUNCATED and cut:
        return f"gap (cut at {cut.group(1)})"
    lost = re.search(r"(\d+) of (\d+) samples missing", flag.message)
    if flag.code is QualityCode.GAP and lost:
        share = 100.0 * int(lost.group(1)) / max(int(lost.group(2)), 1)
        return f"gap ({math.ceil(share):d} % missing)"
    return SHORT_FLAGS.get(flag.code, str(flag.code))


def metric_text(metric: Metric) -> str:
    """Value, unit and 90 % interval ('1.12 s (90 %: 0.95–never)'); a missing one says why."""
    if metric.value is not None:
        text = display_value(metric.value, metric.unit)
    elif metric.quality and metric.quality[0].code is QualityCode.NEVER_STABILIZED:
        text = "never settled"
    else:
        reason = describe_flag(metric.quality[0]) if metric.quality else "no reason given"
        text = f"no value ({reason})"
    if metric.interval_90 is not None:
        low, high = metric.interval_90
        text += f" (90 %: {low:.2f}–{'never' if high is None else f'{high:.2f}'})"
    return text


# ---------------------------------------------------------------- fitting into 80 columns


def fit(text: str, indent: int) -> list[str]:
    """`text` as lines of at most WIDTH characters, continuation lines indented by `indent`."""
    if len(text) <= WIDTH:
        return [text]
    return textwrap.wrap(text, WIDTH, subsequent_indent=" " * indent, break_on_hyphens=False) or [
        text[:WIDTH]
    ]


def pack(fields: Sequence[str], indent: int, first: str = "", sep: str = "  ") -> list[str]:
    """`first` then `fields` joined by `sep`, over lines of at most WIDTH (continuations indented
    by `indent`); a field is split only when it is longer than a line."""
    lines: list[str] = []
    line, empty = first or " " * indent, True
    for item in fields:
        joint = "" if empty else sep
        if line.strip() and len(line) + len(joint) + len(item) > WIDTH:
            lines.append(line.rstrip())
            line, joint = " " * indent, ""
        line += joint + item
        empty = False
    lines.append(line)
    return [part for long in lines for part in fit(long, indent)]


def fit_path(prefix: str, path: str) -> list[str]:
    """`prefix` + `path`, broken after a '/' or '\\' when longer than WIDTH."""
    lines, line = [], prefix
    for part in re.split(r"(?<=[/\\])", path):
        if len(line) + len(part) > WIDTH and line.strip():
            lines.append(line)
            line = " " * len(prefix)
        line += part
    lines.append(line)
    return [part for long in lines for part in fit(long, len(prefix))]


# ---------------------------------------------------------------- trials


def condition_words(trial_type: str, surface: str, vision: str) -> str:
    """'single-leg hold, firm, eyes open'."""
    return f"{_words(trial_type)}, {_words(surface)}, eyes {vision}"


def _words(label: str) -> str:
    return WORDS.get(label, label.replace("_", " "))


def _trial_cells(number: int, trial: TrialAnalysis) -> list[str]:
    return [
        f"{number:d}",
        f"{trial.onset_s:.1f} s",
        _words(trial.trial_type),
        trial.side,
        f"{_words(trial.surface)}, eyes {trial.vision}",
        trial.outcome,
        "valid" if trial.valid else "INVALID",
    ]


def _metric_fields(trial: TrialAnalysis, tracked_point: str) -> list[str]:
    landing = trial.trial_type in LANDING_TYPES
    keys: tuple[str, ...] = LANDING_KEYS if landing else HOLD_KEYS
    if tracked_point == "board":  # touch-downs are detected from the body or a plate only
        keys = tuple(k for k in keys if k != "touchdowns")
    fields = [f"{LABELS[k]} {metric_text(trial.metrics[k])}" for k in keys if k in trial.metrics]
    flags = sorted({describe_flag(f) for f in trial.quality})
    if flags:
        fields.append("flags: " + ", ".join(flags))
    return fields


def trial_lines(recording: RecordingAnalysis) -> list[str]:
    """Two lines (or more, wrapped) per trial: head line, then indented metrics and flags."""
    rows = [_trial_cells(i + 1, t) for i, t in enumerate(recording.trials)]
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))] if rows else []
    lines: list[str] = []
    for row, trial in zip(rows, recording.trials, strict=True):
        cells = [
            cell.rjust(width) if c < 2 else cell.ljust(width)
            for c, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines += fit("  " + "  ".join(cells).rstrip(), 6)
        lines += pack(_metric_fields(trial, recording.tracked_point), 6)
    return lines


# ---------------------------------------------------------------- per side and asymmetry


def trials_note(side: SideValue, minimum: int) -> str:
    """'only 2 trials, 3 recommended' below the recommendation, else '3 trials'."""
    noun = "trial" if side.n == 1 else "trials"
    if any(f.code is QualityCode.TOO_FEW_TRIALS for f in side.quality):
        return f"only {side.n} {noun}, {minimum} recommended"
    return f"{side.n} {noun}"


def describe_asymmetry(key: str, asym: Asymmetry) -> str:
    """The asymmetry in words: which side is worse, by how much, and whether it is real."""
    return " ".join(asymmetry_words(key, asym))


def asymmetry_words(key: str, asym: Asymmetry) -> tuple[str, str]:
    """`describe_asymmetry` in two parts, split where a line may break."""
    if asym.percent is None:
        return "no asymmetry figure:", "a side is 0"
    size = abs(asym.percent)
    mdc = asym.mdc95_pct
    digits = 1 if mdc is not None and round(size) == round(mdc) else 0
    if round(size, digits) == 0:
        text = "left and right about equal"
    else:
        right_worse = (asym.percent > 0) != (key in HIGHER_IS_BETTER)
        worse, better = ("right", "left") if right_worse else ("left", "right")
        text = f"{worse} {size:.{digits}f} % worse than {better}"
    if asym.flagged is None or mdc is None:
        return text + ";", "no MDC known for this measure"
    verdict = "beyond" if asym.flagged else "within"
    return text + ",", f"{verdict} the test's noise (MDC {mdc:.{digits}f} %)"


def _unsettled(trials: Sequence[TrialAnalysis], condition: str, side: Side, key: str) -> int:
    """Valid trials of `condition` and `side` whose `key` never settled (left out of the mean)."""
    return sum(
        1
        for t in trials
        if t.valid
        and t.side == side
        and condition_key(t) == condition
        and key in t.metrics
        and any(f.code is QualityCode.NEVER_STABILIZED for f in t.metrics[key].quality)
    )


def summary_lines(recording: RecordingAnalysis) -> list[str]:
    """Per condition: each summary metric's mean per side and its asymmetry in words."""
    lines: list[str] = []
    for condition, summary in recording.summary.items():
        trial_type, surface, vision = (*condition.split("/"), "", "")[:3]
        minimum = minimum_trials(TrialType(trial_type))
        keys = [k for k in SUMMARY_KEYS if any(k in v for v in summary.sides.values())]
        if not keys:
            continue
        column = 4 + max(len(LABELS[k]) for k in keys) + 2
        lines += fit(f"  {condition_words(trial_type, surface, vision)}", 4)
        for key in keys:
            label = LABELS[key].ljust(column - 4)
            for side, values in summary.sides.items():
                if key not in values:
                    continue
                value = values[key]
                notes = [trials_note(value, minimum)]
                unsettled = _unsettled(recording.trials, condition, side, key)
                if unsettled:
                    notes[0] += ";"
                    notes.append(f"{unsettled} never settled, not averaged")
                notes[0] = "(" + notes[0]
                notes[-1] += ")"
                text = f"    {label}{side:<5}  {format_value(value.value, value.unit)} "
                lines += pack(notes, column + 7, first=text, sep=" ")
                label = " " * (column - 4)
            asym = summary.asymmetry.get(key)
            if asym is not None:
                lines += pack(asymmetry_words(key, asym), column, sep=" ")
    return lines


# ---------------------------------------------------------------- session


def format_session(analysed: AnalysedSession) -> str:
    """Trials, per-side values and asymmetries of one session, as lines of at most 80 columns."""
    a = analysed
    lines = fit(f"sub-{a.athlete}  ses-{a.session}  task-{a.task}", 2)
    lines += fit_path("  from ", str(analysed.source))
    for recording in analysed.analysis.recordings:
        point = POINTS.get(recording.tracked_point, recording.tracked_point)
        lines += fit(f" {recording.tracksys} ({point})", 2)
        for flag in recording.quality:
            lines += fit(f"  warning: {flag.message}", 4)
        if not recording.trials:
            lines.append("  no trials: the recording has no events (import it with --trial-type)")
        lines += trial_lines(recording)
        summary = summary_lines(recording)
        if summary:
            lines.append(" per side (mean of valid trials):")
            lines += summary
    return "\n".join(lines)

"""Plain-text tables of an analysis, for the terminal."""

from __future__ import annotations

from collections.abc import Mapping

from balancelab.dsp.analysis import RecordingAnalysis, TrialAnalysis
from balancelab.dsp.results import Metric
from balancelab.engine.analyze import AnalysedSession

HOLD_KEYS = ("sway_area_95", "mean_velocity", "stability_index", "touchdowns")
LANDING_KEYS = ("tts", "peak_acc", "dpsi")
SUMMARY_KEYS = ("sway_area_95", "mean_velocity", "stability_index", "tts")


def format_value(value: float | None, unit: str) -> str:
    """A number with 4 significant digits and its unit, or '-' when there is none."""
    return "-" if value is None else f"{value:.4g} {unit}"


def _trial_metrics(trial: TrialAnalysis) -> str:
    keys = LANDING_KEYS if trial.trial_type in ("step_down", "hop_stabilize") else HOLD_KEYS
    shown = [(k, trial.metrics[k]) for k in keys if k in trial.metrics]
    return "  ".join(f"{k}={_metric_text(m)}" for k, m in shown)


def _metric_text(metric: Metric) -> str:
    """The value with its unit and 90 % interval; a missing one says why (its first flag)."""
    if metric.value is None and metric.quality:
        return f"- ({metric.quality[0].code})"
    text = format_value(metric.value, metric.unit)
    if metric.interval_90 is not None:
        low, high = metric.interval_90
        text += f" ({low:.2f}–{'never' if high is None else f'{high:.2f}'})"
    return text


def _trial_line(number: int, trial: TrialAnalysis) -> str:
    flags = ",".join(sorted({f.code for f in trial.quality})) or "-"
    head = (
        f"  {number:>2} {trial.onset_s:7.1f}s {trial.trial_type:<16} {trial.side:<5}"
        f" {trial.surface:<12} {trial.vision:<6} {trial.outcome:<9}"
        f" {'valid' if trial.valid else 'INVALID':<7}"
    )
    return f"{head} {_trial_metrics(trial)}  flags: {flags}"


def _summary_lines(recording: RecordingAnalysis) -> list[str]:
    lines: list[str] = []
    for condition, summary in recording.summary.items():
        for key in SUMMARY_KEYS:
            sides: Mapping[str, str] = {
                side: f"{format_value(values[key].value, values[key].unit)} (n={values[key].n})"
                for side, values in summary.sides.items()
                if key in values
            }
            if not sides:
                continue
            text = "  ".join(f"{side}: {v}" for side, v in sides.items())
            asym = summary.asymmetry.get(key)
            if asym is not None and asym.percent is not None:
                verdict = "beyond MDC" if asym.flagged else "within MDC"
                text += f"  asymmetry {asym.percent:+.1f} % ({verdict})"
            lines.append(f"  {condition:<32} {key:<16} {text}")
    return lines


def format_session(analysed: AnalysedSession) -> str:
    """Trials, per-side values and asymmetries of one session, as text."""
    session = analysed.session
    lines = [
        f"sub-{session.athlete} ses-{session.session} task-{session.task}  ({analysed.source})"
    ]
    for recording in analysed.analysis.recordings:
        lines.append(f" {recording.tracksys} ({recording.tracked_point})")
        if not recording.trials:
            lines.append("  no trials: the recording has no events (import it with --trial-type)")
        lines += [_trial_line(i + 1, t) for i, t in enumerate(recording.trials)]
        summary = _summary_lines(recording)
        if summary:
            lines.append(" per side (mean of valid trials):")
            lines += summary
    return "\n".join(lines)

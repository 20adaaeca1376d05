"""`balancelab stream DEVICE`: record a live source into the dataset, printing rate, loss, latency.

Exit codes (`cli.common.ExitCode`): 0 when the source ended or was stopped (--seconds, Ctrl-C)
after samples arrived; 3 when it was lost, or when no sample arrived at all (a phone or sensor
that cannot be reached), with the reason on stderr; 2 for a DEVICE or option it refuses.
SIGTERM and SIGHUP close the recording as Ctrl-C does (the trial under way kept as `aborted`),
then exit 143 and 129, 128 + the signal as the shell reports a process the signal ended: Ctrl-C
is the operator's own way to stop, the others come from outside (a service manager, a closed
terminal), and a script can tell them apart.

Kept apart from the dispatcher (`balancelab.cli`); its `build_parser` adds it with
`add_stream_command(commands)`.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections import Counter
from collections.abc import Callable

from balancelab.cli.common import (
    ExitCode,
    add_data_option,
    dataset_root,
    print_problem,
    report_recovery,
    stdout_closed,
    whole_number,
)
from balancelab.engine.controller import (
    ENDED_STATES,
    ErrorEvent,
    StreamEvent,
    StreamFigures,
    StreamProgress,
    StreamResult,
    TrialEnded,
    TrialStarted,
)
from balancelab.engine.streaming import DEVICE_FORMS, open_source, stream_to_dataset
from balancelab.errors import InvalidArgumentError, Trouble
from balancelab.model import Trial, check_label
from balancelab.sensors.base import SourceState
from balancelab.sim import list_scenarios

SIGNAL_EXITS = {
    getattr(signal, name): code
    for name, code in (("SIGTERM", ExitCode.TERMINATED), ("SIGHUP", ExitCode.HANGUP))
    if hasattr(signal, name)
}
"""The stop signals that set the exit code; Ctrl-C (SIGINT) exits as the recording ended."""
SIGNAL_WORDS = {"SIGINT": "Ctrl-C (SIGINT)", "SIGHUP": "SIGHUP (the terminal closed)"}
FAILURE_WORDS = {
    "connection": "could not connect",
    "timeout": "no answer in time",
    "disconnected": "connection closed early",
    "bad_response": "malformed answer",
}
"""Rejection reasons (`SourceStats.packets_rejected`) in words; others are shown as named."""
PHONE_ADVICE = (
    "Check that the phone is awake and on the same network as this computer, that phyphox has"
    " remote access on, and that HOST:PORT is the address phyphox shows."
)
SENSOR_ADVICE = (
    "Switch the sensor on (Polar straps need skin contact), bring it within a few metres, close"
    " other apps connected to it, and check that `balancelab scan` lists it."
)
OTHER_ADVICE = "Run the same command with --debug for details."


def add_stream_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `stream` on the top-level sub-command set."""
    parser = commands.add_parser(
        "stream",
        help="record a live source (simulated athlete, replay, phone, sensor) into the dataset",
        description=(
            f"Stream DEVICE into the dataset. DEVICE is one of: {DEVICE_FORMS}. Prints rate, loss"
            " and latency once a second; Ctrl-C (or SIGTERM, SIGHUP) stops and keeps the"
            " recording, the trial under way marked aborted."
        ),
    )
    parser.add_argument("device", metavar="DEVICE", help="what to stream from (see above)")
    parser.add_argument(
        "--seconds", type=float, default=None, help="stop after N s (default: until it ends)"
    )
    add_data_option(parser, out_alias=True)
    parser.add_argument("--scenario", default="demo_session", help="scenario for DEVICE sim")
    parser.add_argument("--seed", type=whole_number, default=0, help="random seed for DEVICE sim")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="x real time for sim and replay (default 1)"
    )
    parser.add_argument("--athlete", default="anon", help="athlete label (letters, digits)")
    parser.add_argument("--task", default=None, help="task label (default: from the source)")
    parser.set_defaults(handler=run_stream)


def run_stream(args: argparse.Namespace) -> int:
    """The `stream` handler: 0 when the source ended or was stopped after samples arrived;
    3 (the reason on stderr) when it was lost or no sample arrived; 143 or 129 when SIGTERM
    or SIGHUP stopped it (the recording closed and kept all the same)."""
    _check_args(args)
    source = open_source(args.device, scenario=args.scenario, seed=args.seed, speed=args.speed)
    root = dataset_root(args.data)
    report_recovery(root)
    print(f"streaming {source.name} into {root} (Ctrl-C stops and keeps the recording)")
    printer = EventPrinter(source.stop)
    result = stream_to_dataset(
        source, root, args.seconds, printer, athlete=args.athlete, task=args.task
    )
    if not printer.stdout_closed:
        try:
            _print_summary(result)
        except OSError:  # a closed pipe, or the terminal gone with SIGHUP (EIO)
            printer.stdout_closed = True
    if result.error is not None:
        raise result.error
    if result.stopped_by in SIGNAL_EXITS:
        if printer.stdout_closed:
            stdout_closed()  # for its redirect: the flush at exit must not fail again
        return SIGNAL_EXITS[result.stopped_by]
    if printer.stdout_closed:
        return stdout_closed()
    trouble = source_trouble(result)
    if trouble is None:
        return ExitCode.OK
    print_problem(trouble.message, trouble.advice or _advice(args.device))
    return ExitCode.SOURCE_UNREACHABLE


def source_trouble(result: StreamResult) -> Trouble | None:
    """Why a finished stream did not do its job (code, message in words, the source's advice
    or ""); None when it did: samples arrived and the source ended or was stopped, not lost."""
    arrived = any(figures.samples for figures in result.streams)
    if result.final_state is SourceState.LOST:
        code, advice = _code_and_advice(result.trouble, "lost")
        if arrived:
            message = f"{result.source} was lost after {result.elapsed_s:.1f} s: {result.reason}"
        else:
            message = f"{result.source} could not be reached: {result.reason}"
        return Trouble(code, message, advice)
    if arrived:
        return None
    waiting = [e for e in result.events if e.state not in ENDED_STATES]
    still = f"; it was still {waiting[-1].state.value}" if waiting else ""
    if waiting and waiting[-1].reason:
        still += f" ({waiting[-1].reason})"
    code, advice = _code_and_advice(waiting[-1].trouble if waiting else None, "no_samples")
    message = f"no sample arrived from {result.source} in {result.elapsed_s:.1f} s{still}"
    return Trouble(code, message + _failures(result.stats.packets_rejected), advice)


def _code_and_advice(trouble: Trouble | None, code: str) -> tuple[str, str]:
    return (code, "") if trouble is None else (trouble.code, trouble.advice)


def _failures(rejected: Counter[str]) -> str:
    if not rejected:
        return ""
    words = [
        f"{FAILURE_WORDS.get(reason, reason.replace('_', ' '))} ({count}x)"
        for reason, count in rejected.most_common()
    ]
    return f"; failures: {', '.join(words)}"


def _advice(device: str) -> str:
    text = device.strip()
    if text.startswith("phyphox://"):
        return PHONE_ADVICE
    if text.startswith(("sim", "replay:")):
        return OTHER_ADVICE
    return SENSOR_ADVICE


def _check_args(args: argparse.Namespace) -> None:
    if args.seconds is not None and not args.seconds > 0:
        raise InvalidArgumentError(f"--seconds must be > 0, got {args.seconds}")
    if not args.speed > 0:
        raise InvalidArgumentError(f"--speed must be > 0, got {args.speed}")
    check_label("athlete", args.athlete)  # refused before the source is opened
    if args.task is not None:
        check_label("task", args.task)
    scenarios = dict(list_scenarios())
    if args.scenario not in scenarios:
        raise InvalidArgumentError(
            f"--scenario {args.scenario!r} is not one of {', '.join(scenarios)}",
            advice="Run `balancelab simulate --list` to see the scenarios.",
        )


class EventPrinter:
    """The stream's event callback: prints each event (`_print_event`). When the reader of
    stdout goes away (`balancelab stream ... | head`, or a terminal closed: EIO), it prints no
    more and stops the source, so the recording closes properly before `run_stream` exits as
    `stdout_closed` says."""

    def __init__(self, stop: Callable[[], None]) -> None:
        self._stop = stop
        self.stdout_closed = False

    def __call__(self, event: StreamEvent) -> None:
        if self.stdout_closed:
            return
        try:
            _print_event(event)
        except OSError:
            self.stdout_closed = True
            self._stop()


def _print_event(event: StreamEvent) -> None:
    """Called on the engine thread: one line per state change, trial and per second, the
    advice apart on the next line when the source is lost or the recording fails. Once the
    source has ended (stopped or lost) its state line was printed; the final figures go to
    the summary, so no progress line repeats the end."""
    if isinstance(event, StreamProgress):
        if event.state not in ENDED_STATES:
            print(f"{event.elapsed_s:6.1f} s  {_progress_line(event)}", flush=True)
        return
    if isinstance(event, TrialStarted):
        print(
            f"{event.trial.onset_s:6.1f} s  trial begins: {_trial_words(event.trial)}", flush=True
        )
        return
    if isinstance(event, TrialEnded):
        trial = event.trial
        words = f"{_trial_words(trial)}, {trial.outcome}"
        print(f"{trial.end_s:6.1f} s  trial ends: {words}", flush=True)
        return
    trouble: Trouble | None
    if isinstance(event, ErrorEvent):
        state, reason, trouble = "error", event.trouble.message, event.trouble
    else:
        state, reason = event.state.value, event.reason
        trouble = event.trouble if event.state is SourceState.LOST else None
    print(f"{event.time_s:6.1f} s  {state}" + (f"  ({reason})" if reason else ""), flush=True)
    if trouble is not None and trouble.advice:
        print(f"{'':9}what to do: {trouble.advice}", flush=True)


def _trial_words(trial: Trial) -> str:
    return f"{trial.trial_type} {trial.side} ({trial.surface}, eyes {trial.vision})"


def _progress_line(progress: StreamProgress) -> str:
    parts = [_figures(f) for f in progress.streams] or ["no samples yet"]
    latency = progress.median_latency_s
    parts.append("latency " + ("n/a" if latency is None else f"{latency * 1000:.0f} ms"))
    parts.append(f"rejected {progress.rejected}")
    return f"{progress.state.value}  " + " | ".join(parts)


def _figures(figures: StreamFigures) -> str:
    return (
        f"{figures.tracksys} {figures.rate_hz:.1f} Hz {figures.samples} samples"
        f" lost {figures.lost} ({figures.loss_fraction:.1%})"
    )


def _print_summary(result: StreamResult) -> None:
    ended = result.final_state.value + (f" ({result.reason})" if result.reason else "")
    if result.stopped_by is not None:
        ended = f"stopped by {SIGNAL_WORDS.get(result.stopped_by.name, result.stopped_by.name)}"
    print(f"\nended: {ended} after {result.elapsed_s:.1f} s")
    print(f"session: {result.session_dir or 'none (no sample arrived)'}")
    for trial in result.trials_aborted:
        print(
            f"  trial under way kept as aborted: {trial.trial_type} {trial.side},"
            f" {trial.onset_s:.1f}-{trial.end_s:.1f} s"
        )
    for figures in result.streams:
        written = result.samples_written.get(figures.tracksys, 0)
        print(f"  {_figures(figures)}, {written} rows written")
    latency = result.stats.median_latency_s
    print("  median latency: " + ("n/a" if latency is None else f"{latency * 1000:.1f} ms"))
    rejected = dict(result.stats.packets_rejected)
    print(f"  rejected: {rejected or 'none'}; reconnects: {result.stats.reconnects}")
    if result.rows_dropped:
        print(f"  rows not written: {result.rows_dropped}", file=sys.stderr)

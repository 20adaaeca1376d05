"""Live streaming into the dataset, the CLI's job: `stream_to_dataset` records a source with a
`StreamController` on its own `EngineLoop` for N seconds (or until the source ends, Ctrl-C,
SIGTERM or SIGHUP) and returns a `StreamResult`; `open_source` turns a DEVICE text into a source.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import importlib
import signal
import threading
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from balancelab.devices.common import is_ble_address
from balancelab.engine.controller import (
    EngineLoop,
    EventCallback,
    SignalHandler,
    StreamController,
    StreamResult,
    start_stream,
)
from balancelab.errors import InvalidArgumentError
from balancelab.sensors.base import Source
from balancelab.sensors.phyphox_live import DEFAULT_PORT, PhyphoxSource
from balancelab.sensors.replay import ReplaySource
from balancelab.sensors.simulated import SimulatedSource

SIGNAL_POLL_S = 0.2
"""The main thread waits for a stream in slices this long (s): where a stop signal's handler is
a Python one (`signal.signal`, no `add_signal_handler`), it runs only when that thread does."""
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""The signals that end `stream_to_dataset` as Ctrl-C does (Windows has no SIGHUP)."""
DEVICE_FORMS = (
    "sim (the simulated athlete; --scenario), sim:SCENARIO, replay:PATH (a recorded session"
    " folder or *_motion.tsv), phyphox://HOST[:PORT] (a phone with phyphox remote access on),"
    " a Bluetooth address (AA:BB:CC:DD:EE:FF or a macOS UUID) or ble:NAME"
)


def stream_to_dataset(
    source: Source,
    dataset_root: Path | str,
    seconds: float | None = None,
    on_event: EventCallback | None = None,
    *,
    athlete: str = "anon",
    task: str | None = None,
) -> StreamResult:
    """Record `source` for `seconds` (None: until it ends). Called from the main thread,
    SIGINT (Ctrl-C), SIGTERM and SIGHUP stop it, close the session and keep the data; the
    result names the signal (`stopped_by`)."""
    with EngineLoop() as engine, _StopOnSignals(engine) as signals:
        controller = start_stream(
            engine, source, dataset_root, seconds=seconds, on_event=on_event,
            athlete=athlete, task=task,
        )  # fmt: skip
        signals.attach(controller)
        result = _wait_for(controller)
    return replace(result, stopped_by=signals.received)


class _StopOnSignals:
    """While open (in the main thread; elsewhere it does nothing), each of STOP_SIGNALS not
    ignored stops the attached stream on the engine loop and is kept in `received` (the first
    one). A signal that comes before a stream is attached stops it as soon as it is."""

    def __init__(self, engine: EngineLoop) -> None:
        self._engine = engine
        self._controller: StreamController | None = None
        self._previous: dict[signal.Signals, SignalHandler] = {}
        self.received: signal.Signals | None = None

    def __enter__(self) -> _StopOnSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        try:
            for sig in STOP_SIGNALS:
                previous = signal.getsignal(sig)
                if previous == signal.SIG_IGN:
                    continue  # ignored by whoever started us (`nohup`): it stays ignored
                self._engine.add_signal_handler(sig, functools.partial(self._on_signal, sig))
                self._previous[sig] = previous
        except BaseException:
            self.__exit__()
            raise
        return self

    def attach(self, controller: StreamController) -> None:
        self._controller = controller
        if self.received is not None:
            controller.stop()

    def _on_signal(self, sig: signal.Signals) -> None:
        """On the loop thread: no I/O, only the stop request."""
        if self.received is None:
            self.received = sig
        if self._controller is not None:
            self._controller.stop()

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            self._engine.remove_signal_handler(sig, previous)


def _wait_for(controller: StreamController) -> StreamResult:
    """The stream's result, waited for in SIGNAL_POLL_S slices so that a Python signal
    handler gets to run.

    Only `done()` ends the wait: a stream that failed with a TimeoutError of its own raises
    the same class as a slice that ran out, and must not be taken for one.
    """
    while not controller.done():
        with contextlib.suppress(concurrent.futures.TimeoutError):
            controller.result(SIGNAL_POLL_S)
    return controller.result()


async def record_stream(
    source: Source,
    dataset_root: Path | str,
    *,
    seconds: float | None = None,
    on_event: EventCallback | None = None,
    athlete: str = "anon",
    task: str | None = None,
) -> StreamResult:
    """`stream_to_dataset` on the running loop (for tests and callers already in asyncio)."""
    controller = StreamController(
        source, dataset_root, on_event=on_event, athlete=athlete, task=task
    )
    return await controller.run(seconds)


def open_source(
    spec: str, *, scenario: str = "demo_session", seed: int = 0, speed: float = 1.0
) -> Source:
    """The source a DEVICE text names (see DEVICE_FORMS); InvalidArgumentError with advice."""
    text = spec.strip()
    if text == "sim" or text.startswith("sim:"):
        name = text.removeprefix("sim").lstrip(":") or scenario
        simulated = SimulatedSource(name, seed=seed, speed=speed)
        _ = simulated.session  # simulated now: --seconds counts streaming, not simulating
        return simulated
    if text.startswith("replay:"):
        return _open_replay(text.removeprefix("replay:"), speed)
    if text.startswith("phyphox://"):
        return _open_phyphox(text)
    if text.startswith("ble:") or is_ble_address(text):
        return _open_ble(text.removeprefix("ble:"))
    raise InvalidArgumentError(
        f"DEVICE {spec!r} is not a source balancelab knows",
        advice=f"Give one of: {DEVICE_FORMS}.",
    )


def _open_replay(path_text: str, speed: float) -> Source:
    path = Path(path_text).expanduser()
    if not path_text or not path.exists():
        raise InvalidArgumentError(
            f"replay: {path_text!r} does not exist",
            advice="Give a session folder (sub-X/ses-Y) or a *_motion.tsv after 'replay:'.",
        )
    source = ReplaySource(path, speed=speed)
    _ = source.session  # read now: a broken recording is reported before streaming starts
    return source


def _open_phyphox(text: str) -> Source:
    advice = "Write phyphox://HOST or phyphox://HOST:PORT, as the phone shows under remote access."
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise InvalidArgumentError(f"{text!r}: {exc}", advice=advice) from None
    if not host or parts.path not in ("", "/") or parts.query:
        raise InvalidArgumentError(f"{text!r} does not name a host", advice=advice)
    return PhyphoxSource(host, port or DEFAULT_PORT)


def _open_ble(target: str) -> Source:
    try:
        module = importlib.import_module("balancelab.sensors.ble")
    except ImportError as exc:
        raise InvalidArgumentError(
            f"Bluetooth sensors are not available in this installation ({exc})",
            advice="Install balancelab with its Bluetooth support (bleak), or use sim,"
            " replay:PATH or phyphox://HOST.",
        ) from None
    source: Source = module.BleSource(target)
    return source

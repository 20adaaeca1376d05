"""`balancelab stream DEVICE` end to end: sim, replay:, phyphox:// and bad devices."""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import balancelab
from balancelab.cli import main
from balancelab.cli import stream as cli_stream
from balancelab.cli.common import ExitCode
from balancelab.engine.streaming import open_source
from balancelab.errors import InvalidArgumentError
from balancelab.formats.bids_reader import read_session
from balancelab.formats.bids_writer import write_session
from balancelab.formats.dataset import Participant, open_dataset
from balancelab.model import Side, StreamSpec, TrialType
from balancelab.sensors.base import SourceEvent, SourceSink, SourceState, SourceStats
from balancelab.sim import Scenario, TrialSpec, lowback_imu, simulate_session
from tests.support.phyphox_server import PhyphoxServer


def sessions(root: Path) -> list[Path]:
    return sorted(root.glob("sub-*/ses-*"))


def test_stream_sim_records_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["stream", "sim", "--seconds", "1.2", "--speed", "20", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "streaming" in out and "simlowback 200.0 Hz" in out and "latency" in out
    assert "ended: stopped (stopped on request)" in out
    [session_dir] = sessions(tmp_path)
    session = read_session(session_dir)  # closed properly: complete and readable
    assert session.task == "demo"
    lowback = session.recording("simlowback")
    assert lowback.time_s.size > 200 * 20  # > 20 s of the athlete in 1.2 s at 20x
    assert np.all(np.diff(lowback.time_s) > 0)


def test_stream_replay_copies_a_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = Scenario(
        "tiny",
        "tiny",
        (TrialSpec(TrialType.SINGLE_LEG_HOLD, Side.LEFT, duration_s=1.0, rest_after_s=0.0),),
        sensors=(lowback_imu(100.0),),
        lead_in_s=0.2,
        tail_s=0.2,
    )
    session, _ = simulate_session(scenario)
    original_dir = write_session(tmp_path / "a", session, participant=Participant("ana01"))
    out_root = tmp_path / "b"
    code = main(["stream", f"replay:{original_dir}", "--speed", "10", "--out", str(out_root)])
    assert code == 0
    assert "ended: stopped (end of the recording)" in capsys.readouterr().out
    [copy_dir] = sessions(out_root)
    original, copy = read_session(original_dir), read_session(copy_dir)
    np.testing.assert_array_equal(copy.recordings[0].values, original.recordings[0].values)
    np.testing.assert_array_equal(copy.recordings[0].time_s, original.recordings[0].time_s)
    assert copy.trials == original.trials and copy.task == original.task


def test_stream_phyphox_from_a_phone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with PhyphoxServer() as phone:
        device = f"phyphox://127.0.0.1:{phone.port}"
        code = main(["stream", device, "--seconds", "1.6", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "phoneacc" in out and "phonegyr" in out
    [session_dir] = sessions(tmp_path)
    assert {r.tracksys for r in read_session(session_dir).recordings} == {"phoneacc", "phonegyr"}


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("foo", "not a source balancelab knows"),
        ("replay:/no/such/session", "does not exist"),
        ("phyphox://", "does not name a host"),
        ("sim:nonsense", "no scenario"),
    ],
)
def test_a_bad_device_exits_2_with_advice(
    device: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stream", device, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "what to do:" in err
    assert not sessions(tmp_path)


def test_bluetooth_without_the_ble_module_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "balancelab.sensors.ble", None)  # import fails
    with pytest.raises(InvalidArgumentError, match="Bluetooth sensors are not available"):
        open_source("AA:BB:CC:DD:EE:FF")
    with pytest.raises(InvalidArgumentError, match="Bluetooth"):
        open_source("ble:MyBoard")


def test_device_texts_dispatch_to_their_source() -> None:
    assert open_source("sim").name == "sim:demo_session"
    assert open_source("sim:wobble_board").name == "sim:wobble_board"
    phone = open_source("phyphox://192.168.1.20")
    assert phone.name == "phyphox://192.168.1.20:8080"
    assert open_source("phyphox://10.0.0.2:8081").name == "phyphox://10.0.0.2:8081"


class GoneAtOnce:
    """A source that looks for its sensor and gives up: connecting, then lost."""

    name = "fake:gone"
    trouble = None
    default_task = "live"
    scripted_trials = ()

    def __init__(self) -> None:
        self.stats = SourceStats()
        self._state = SourceState.IDLE

    def session_time_s(self) -> float:
        return 0.0

    @property
    def state(self) -> SourceState:
        return self._state

    def streams(self) -> Sequence[StreamSpec]:
        return ()

    async def run(self, sink: SourceSink) -> None:
        for state, reason in ((SourceState.CONNECTING, "looking"), (SourceState.LOST, "gone")):
            self._state = state
            sink.on_event(SourceEvent(self.name, state, 0.0, reason))

    def stop(self) -> None:
        pass


def test_a_lost_source_is_reported_lost_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_stream, "open_source", lambda *args, **kwargs: GoneAtOnce())
    assert main(["stream", "fake", "--out", str(tmp_path)]) == ExitCode.SOURCE_UNREACHABLE
    out, err = capsys.readouterr()
    timed_lines = [line for line in out.splitlines() if re.match(r"\s*[\d.]+ s  ", line)]
    assert timed_lines == ["   0.0 s  connecting  (looking)", "   0.0 s  lost  (gone)"]
    assert "ended: lost (gone)" in out
    assert "balancelab: error: fake:gone could not be reached: gone" in err
    assert "what to do: Switch the sensor on" in err


def test_stream_needs_no_cli_module_and_finds_the_default_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(balancelab, "cli")
    monkeypatch.setitem(sys.modules, "balancelab.cli", None)  # importing it now fails
    monkeypatch.setenv("BALANCELAB_DATA", str(tmp_path))
    parser = argparse.ArgumentParser()
    cli_stream.add_stream_command(parser.add_subparsers())
    args = parser.parse_args(["stream", "sim", "--seconds", "0.3", "--speed", "20"])
    assert args.handler(args) == 0
    assert len(sessions(tmp_path)) == 1


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_an_unreachable_phone_exits_3_with_the_reason_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = f"phyphox://127.0.0.1:{closed_port()}"
    code = main(["stream", device, "--seconds", "1.5", "--data", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == ExitCode.SOURCE_UNREACHABLE, (out, err)
    assert "session: none (no sample arrived)" in out
    [problem, advice] = err.strip().splitlines()
    assert problem.startswith(f"balancelab: error: no sample arrived from {device} in 1.5 s")
    assert "it was still connecting" in problem and "failures: could not connect (" in problem
    assert advice.startswith("  what to do: Check that the phone is awake")
    assert not sessions(tmp_path)


def test_a_phone_lost_after_streaming_exits_3_and_keeps_the_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The phone streams, then vanishes: `lost` after `lost_after_s` without an answer."""
    opened: list[Any] = []

    def quick_to_give_up(*args: Any, **kwargs: Any) -> Any:
        source = open_source(*args, **kwargs)
        source.lost_after_s, source.request_timeout_s, source.warmup_s = 0.6, 0.2, 0.2
        opened.append(source)
        return source

    def pull_the_plug(phone: PhyphoxServer) -> None:
        deadline = time.monotonic() + 20
        while not (opened and opened[0].stats.samples_received >= 60):
            assert time.monotonic() < deadline, "the phone never streamed"
            time.sleep(0.01)
        phone.shutdown()

    monkeypatch.setattr(cli_stream, "open_source", quick_to_give_up)
    with PhyphoxServer() as phone:
        device = f"phyphox://127.0.0.1:{phone.port}"
        plug = threading.Thread(target=pull_the_plug, args=(phone,))
        plug.start()
        code = main(["stream", device, "--seconds", "20", "--data", str(tmp_path)])
        plug.join()
    out, err = capsys.readouterr()
    assert code == ExitCode.SOURCE_UNREACHABLE, (out, err)
    assert re.search(rf"balancelab: error: {re.escape(device)} was lost after [\d.]+ s: ", err)
    assert "no usable answer" in err
    [session_dir] = sessions(tmp_path)
    assert read_session(session_dir).recording("phoneacc").time_s.size > 0


def test_stream_into_a_reader_that_stops_early_closes_the_recording_quietly(
    tmp_path: Path,
) -> None:
    """`balancelab stream sim | head -4`: the source is stopped, the session closed properly
    (nothing to recover), and the exit is SIGPIPE's, with nothing on stderr."""
    command = [sys.executable, "-m", "balancelab", "stream", "sim", "--seconds", "20"]
    with subprocess.Popen(
        [*command, "--speed", "5", "--data", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        lines = [process.stdout.readline() for _ in range(4)]
        process.stdout.close()
        err = process.stderr.read().decode()
        code = process.wait(timeout=60)
    assert code == ExitCode.STDOUT_CLOSED, err
    assert err == ""
    assert lines[0].startswith(b"streaming sim:demo_session")
    assert re.match(rb"\s+1\.0 s  streaming  simlowback", lines[3]), lines  # samples came
    assert open_dataset(tmp_path).recovered == ()
    [session_dir] = sessions(tmp_path)
    assert read_session(session_dir).recording("simlowback").time_s.size > 0

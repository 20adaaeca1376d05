"""A phone running phyphox, as far as its documented remote-access HTTP interface goes.

`PhyphoxServer` serves simulated phone data (the simulator's sternum phone, 100 Hz, irregular)
on 127.0.0.1 from one thread, one request at a time like the app: `/get` with last-value,
`full` and threshold (`t`, `t|ref`) reads, `/control?cmd=start|stop|clear`, `/config`, `/meta`
and `/time`. Experiment time runs while measuring (pauses excluded); a sample exists once the
experiment time has passed it. Faults are queued per request (`fail_next`, `garbage_next`,
`disconnect_next`, `delay_next`, `ragged_next`) or switched (`silence`, `pause_measuring`,
`refuse_start`, `without_config`, `answer_with` for something that is not phyphox on the port,
`scale_times` for a phone clock that lies about its rate); `shutdown()` makes the phone
disappear.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import unquote

import numpy as np

from balancelab.model import Side, TrialType
from balancelab.sim import Scenario, TrialSpec, simulate_session, sternum_phone

GYRO_LAG_S = 0.002
"""The phone's gyroscope samples a little after its accelerometer (separate time buffers)."""


@functools.cache
def phone_data() -> tuple[np.ndarray, np.ndarray]:
    """Simulated phone samples: experiment times (s) and values (n, 6): acc xyz, gyro xyz."""
    trial = TrialSpec(TrialType.SINGLE_LEG_HOLD, Side.LEFT, duration_s=20.0, rest_after_s=0.0)
    scenario = Scenario("phone", "phone", (trial,), sensors=(sternum_phone(),), lead_in_s=1.0)
    session, _ = simulate_session(scenario, seed=3)
    recording = session.recordings[0]
    times = recording.time_s - recording.time_s[0] + 0.005
    return times, recording.values


@dataclass
class Fault:
    kind: str
    value: float = 0.0


@dataclass
class _PhoneState:
    measuring: bool = False
    run_started_s: float = 0.0
    accumulated_s: float = 0.0
    first_start_host_s: float | None = None
    cleared_at_s: float = 0.0
    session: str = "a1b2c3"
    silences: list[tuple[float, float]] = field(default_factory=list)
    silent_since_s: float | None = None
    refuse_start: bool = False
    with_config: bool = True
    impostor_body: bytes | None = None
    time_scale: float = 1.0
    time_events: list[dict[str, Any]] = field(default_factory=list)


class PhyphoxServer:
    """Start with `start()` (or `with`); `port` is then the bound port on 127.0.0.1."""

    def __init__(self, *, with_gyro: bool = True) -> None:
        self.times_s, self.values = phone_data()
        self.with_gyro = with_gyro
        self.state = _PhoneState()
        self.faults: deque[Fault] = deque()
        self.requests: list[str] = []
        self.commands: list[str] = []
        self._lock = threading.Lock()
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # Running -------------------------------------------------------------------------------

    def start(self) -> PhyphoxServer:
        handler = functools.partial(_Handler, self)
        self._httpd = HTTPServer(("127.0.0.1", 0), handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """The phone is gone: the port refuses connections from now on."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> PhyphoxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # Faults --------------------------------------------------------------------------------

    def _queue(self, kind: str, n: int, value: float = 0.0) -> None:
        with self._lock:
            self.faults.extend(Fault(kind, value) for _ in range(n))

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        self._queue("status", n, status)

    def garbage_next(self, n: int = 1) -> None:
        self._queue("garbage", n)

    def disconnect_next(self, n: int = 1) -> None:
        self._queue("disconnect", n)

    def delay_next(self, n: int = 1, seconds: float = 0.5) -> None:
        self._queue("delay", n, seconds)

    def ragged_next(self, n: int = 1) -> None:
        """The next /get returns its time buffers one value shorter (read mid-update)."""
        self._queue("ragged", n)

    @property
    def faults_pending(self) -> int:
        with self._lock:
            return len(self.faults)

    def silence(self) -> None:
        """The phone's sensors stop delivering (samples in the silence never exist)."""
        with self._lock:
            self.state.silent_since_s = self._exp_now()

    def resume(self) -> None:
        with self._lock:
            start = self.state.silent_since_s
            if start is not None:
                self.state.silences.append((start, self._exp_now()))
            self.state.silent_since_s = None

    def pause_measuring(self) -> None:
        """The person pressed pause on the phone."""
        with self._lock:
            self._stop()

    def refuse_start(self) -> None:
        self.state.refuse_start = True

    def without_config(self) -> None:
        """An app older than 1.1.6: /config answers 404."""
        self.state.with_config = False

    def answer_with(self, body: bytes | None) -> None:
        """From now on every request is answered 200 with `body` (an HTML page, garbage);
        None makes the phone answer as phyphox again."""
        with self._lock:
            self.state.impostor_body = body

    def scale_times(self, factor: float) -> None:
        """The time buffers report `factor` × the experiment time (1e-7: samples 10 ms apart
        are reported 1 ns apart); which samples exist still follows the real time."""
        with self._lock:
            self.state.time_scale = factor

    # The phone's clock and buffers -----------------------------------------------------------

    def _exp_now(self) -> float:
        s = self.state
        running = time.monotonic() - s.run_started_s if s.measuring else 0.0
        return s.accumulated_s + running

    def host_time_of(self, experiment_s: np.ndarray) -> np.ndarray:
        """Host monotonic time (s) at which experiment times happened (no pause in between)."""
        assert self.state.first_start_host_s is not None
        return self.state.first_start_host_s + experiment_s

    def available(self, lag_s: float = 0.0) -> np.ndarray:
        """Indices of the samples that exist now (measured, after the last clear, not silenced)."""
        s = self.state
        now = self._exp_now()
        t = self.times_s + lag_s
        keep = (t <= now) & (t > s.cleared_at_s)
        for lo, hi in s.silences:
            keep &= ~((t > lo) & (t <= hi))
        if s.silent_since_s is not None:
            keep &= t <= s.silent_since_s
        return np.flatnonzero(keep)

    def buffers(self) -> dict[str, list[float]]:
        """Every buffer's current contents."""
        out: dict[str, list[float]] = {}
        groups = [("acc", 0, "acc_time", 0.0)]
        if self.with_gyro:
            groups.append(("gyr", 3, "gyr_time", GYRO_LAG_S))
        for prefix, col, time_name, lag_s in groups:
            idx = self.available(lag_s)
            out[time_name] = ((self.times_s[idx] + lag_s) * self.state.time_scale).tolist()
            for k, axis in enumerate("XYZ"):
                out[f"{prefix}{axis}"] = self.values[idx, col + k].tolist()
        return out

    def _start(self) -> bool:
        s = self.state
        if s.refuse_start:
            return False
        if not s.measuring:
            now = time.monotonic()
            s.measuring, s.run_started_s = True, now
            if s.first_start_host_s is None:
                s.first_start_host_s = now - s.accumulated_s
            s.time_events.append(
                {"event": "START", "experimentTime": s.accumulated_s, "systemTime": time.time()}
            )
        return True

    def _stop(self) -> None:
        s = self.state
        if s.measuring:
            s.accumulated_s = self._exp_now()
            s.measuring = False
            s.time_events.append(
                {"event": "PAUSE", "experimentTime": s.accumulated_s, "systemTime": time.time()}
            )

    def _clear(self) -> None:
        self.state.cleared_at_s = self._exp_now()

    # Endpoints -----------------------------------------------------------------------------

    def answer_get(self, query: list[tuple[str, str]], ragged: bool) -> dict[str, Any]:
        with self._lock:
            data = self.buffers()
            s = self.state
            status = {
                "session": s.session,
                "measuring": s.measuring,
                "timedRun": False,
                "countDown": 0,
            }
        out: dict[str, Any] = {}
        for name, spec in query:
            if name not in data:
                continue  # unknown buffers are silently absent
            values = data[name]
            if spec == "":
                chosen, mode = values[-1:], "single"
            elif spec == "full":
                chosen, mode = values, "full"
            else:
                threshold_text, _, ref = spec.partition("|")
                reference = data.get(ref or name, [])
                threshold = float(threshold_text)
                first = next((i for i, v in enumerate(reference) if v > threshold), None)
                chosen = [] if first is None else values[first:]
                mode = "partial"
            if ragged and name.endswith("_time") and chosen:
                chosen = chosen[:-1]
            out[name] = {"size": 0, "updateMode": mode, "buffer": chosen}
        return {"buffer": out, "status": status}

    def answer_control(self, cmd: str) -> dict[str, bool]:
        with self._lock:
            self.commands.append(cmd)
            if cmd == "start":
                return {"result": self._start()}
            if cmd == "stop":
                self._stop()
            elif cmd == "clear":
                self._clear()
            return {"result": cmd in ("stop", "clear")}

    def answer_config(self) -> dict[str, Any] | None:
        if not self.state.with_config:
            return None
        inputs = [_sensor_input("accelerometer", "acc")]
        if self.with_gyro:
            inputs.append(_sensor_input("gyroscope", "gyr"))
        names = [b for i in inputs for o in i["outputs"] for b in o.values()]
        return {
            "crc32": "1a2b3c4d",
            "title": "balancelab test",
            "localTitle": "balancelab test",
            "category": "Raw Sensors",
            "localCategory": "Raw Sensors",
            "buffers": [{"name": n, "size": 0} for n in names],
            "inputs": inputs,
            "export": [],
        }

    def answer_meta(self) -> dict[str, Any]:
        return {"version": "1.2.0", "build": "1020009", "deviceModel": "test phone"}

    def answer_time(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.state.time_events)

    def take_fault(self) -> Fault | None:
        with self._lock:
            return self.faults.popleft() if self.faults else None


def _sensor_input(source: str, prefix: str) -> dict[str, Any]:
    outputs = [{axis: f"{prefix}{axis.upper()}"} for axis in "xyz"]
    return {"source": source, "outputs": [*outputs, {"t": f"{prefix}_time"}]}


def _parse_query(raw: str) -> list[tuple[str, str]]:
    pairs = []
    for part in raw.split("&") if raw else []:
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def __init__(self, phone: PhyphoxServer, *args: Any, **kwargs: Any) -> None:
        self.phone = phone
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        phone = self.phone
        phone.requests.append(self.path)
        path, _, query = self.path.partition("?")
        impostor = phone.state.impostor_body
        if impostor is not None:
            self._send(200, impostor)
            return
        fault = phone.take_fault() if path == "/get" else None
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.value)
        if fault is not None and fault.kind == "disconnect":
            self.close_connection = True
            return
        if fault is not None and fault.kind == "status":
            self._send(int(fault.value), b"Internal Server Error")
            return
        if fault is not None and fault.kind == "garbage":
            self._send(200, b'{"buffer": {"accX": {"size": 0, "buff')
            return
        ragged = fault is not None and fault.kind == "ragged"
        document: Any
        if path == "/get":
            document = phone.answer_get(_parse_query(query), ragged)
        elif path == "/control":
            document = phone.answer_control(dict(_parse_query(query)).get("cmd", ""))
        elif path == "/config":
            document = phone.answer_config()
        elif path == "/meta":
            document = phone.answer_meta()
        elif path == "/time":
            document = phone.answer_time()
        else:
            document = None
        if document is None:
            self._send(404, b"Not Found")
        else:
            self._send(200, json.dumps(document).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

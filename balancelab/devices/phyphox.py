"""phyphox remote access (HTTP on the phone): build `/get` and `/control` queries, parse the JSON.

Source: phyphox-docs `docs/remote-interface` (index.md and openapi.yaml). Buffers of the
built-in experiments: `acc_time`, `accX/Y/Z` (m/s^2, s) and `gyr_time`, `gyrX/Y/Z` (rad/s, s).
`null` in a buffer means NaN or ±inf (indistinguishable). `size` is the buffer capacity.
The experiment clock (s since the first start, pauses excluded) maps to the phone's epoch
clock through `/time` events, and to the host clock with a `ClockMapper`.

Everything the phone sends is bounded before it is used: a number literal longer than
`MAX_NUMBER_CHARS` or not finite refuses the answer (`impossible_value`), and timestamps that
imply a rate outside `MIN_RATE_HZ`..`MAX_RATE_HZ` refuse the stream (`bad_timestamp`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import quote

import numpy as np

from balancelab.devices.common import Decoded
from balancelab.errors import DecodeError, InvalidArgumentError
from balancelab.model import FloatArray, check_choice, check_finite

ACC_TIME = "acc_time"
ACC_BUFFERS = ("accX", "accY", "accZ")
GYR_TIME = "gyr_time"
GYR_BUFFERS = ("gyrX", "gyrY", "gyrZ")
DEFAULT_PORTS = (8080, 80)
"""Android serves on 8080 (then 8081 …), iOS on 80."""
CONTROL_COMMANDS = ("start", "stop", "clear", "set")
MIN_RATE_HZ = 1.0
MAX_RATE_HZ = 1000.0
"""The rates a phone sensor delivers through phyphox: phones sample their IMU from ~5 Hz
(Android's slowest sensor delay) to ~500 Hz (the fastest Android IMUs; iOS gives <= 100 Hz).
Below 1 Hz nothing of balance can be measured; the upper bound is twice the fastest phone."""
RATE_SLACK_SAMPLES = 100
"""New samples a poll may hold beyond `MAX_RATE_HZ` x their time span: room for timestamp
jitter and bunching; a flood of samples nanoseconds apart is thousands."""
MAX_NUMBER_CHARS = 64
"""The longest number literal read; a double needs at most 24 (-2.2250738585072014e-308)."""
PREVIEW_CHARS = 60


# --- requests -------------------------------------------------------------------------------


def _query_part(name: str, spec: str) -> str:
    key = quote(name, safe="")
    return key if spec == "" else f"{key}={quote(spec, safe='')}"


def build_get_query(requests: Sequence[tuple[str, str]]) -> str:
    """`/get?…` from (buffer, spec) pairs: "" = last value, "full", "<threshold>" or
    "<threshold>|<reference buffer>"; `|` is sent as `%7C`."""
    if not requests:
        raise InvalidArgumentError("build_get_query needs at least one (buffer, spec) pair")
    return "/get?" + "&".join(_query_part(name, spec) for name, spec in requests)


def format_threshold(value_s: float) -> str:
    """A threshold as text that round-trips exactly (`repr` of the float)."""
    return repr(check_finite("threshold", value_s, "s"))


def incremental_query(time_buffer: str, value_buffers: Sequence[str], since_s: float | None) -> str:
    """Poll `time_buffer` and its `value_buffers` for values newer than `since_s` (the last
    time already received); `None` asks for everything."""
    if since_s is None:
        return build_get_query([(name, "full") for name in (time_buffer, *value_buffers)])
    threshold = format_threshold(since_s)
    pairs = [(time_buffer, threshold)]
    pairs += [(name, f"{threshold}|{time_buffer}") for name in value_buffers]
    return build_get_query(pairs)


def control_query(cmd: str, *, buffer: str | None = None, value: float | None = None) -> str:
    """`/control?cmd=start|stop|clear|set[&buffer=..&value=..]`."""
    check_choice("cmd", cmd, CONTROL_COMMANDS)
    if (cmd == "set") != (buffer is not None and value is not None):
        raise InvalidArgumentError("cmd 'set' needs buffer and value; other commands take none")
    query = f"/control?cmd={cmd}"
    if buffer is not None and value is not None:
        number = int(value) if float(value).is_integer() else value
        query += f"&buffer={quote(buffer, safe='')}&value={number}"
    return query


# --- responses ------------------------------------------------------------------------------


class _NumberError(ValueError):
    """A number literal outside the bounds (raised inside `json.loads`)."""


def _bounded_int(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS:
        raise _NumberError(f"a number {len(literal)} digits long ({literal[:20]}…)")
    return int(literal)


def _bounded_float(literal: str) -> float:
    if len(literal) > MAX_NUMBER_CHARS:
        raise _NumberError(f"a number {len(literal)} characters long ({literal[:20]}…)")
    value = float(literal)
    if not math.isfinite(value):
        raise _NumberError(f"the number {literal}, beyond what a double holds")
    return value


def _refuse_constant(name: str) -> NoReturn:
    raise _NumberError(f"{name}, which is not a JSON number (phyphox writes null)")


def _preview(text: str | bytes) -> str:
    """The start of an answer, for a message: `'<!DOCTYPE html><html>…'`."""
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    head = " ".join(raw[: 4 * PREVIEW_CHARS].split())
    return repr(head[:PREVIEW_CHARS] + ("…" if len(head) > PREVIEW_CHARS else ""))


def _load_json(text: str | bytes, what: str) -> Any:
    """JSON with every number bounded; `DecodeError` for anything else."""
    try:
        return json.loads(
            text,
            parse_int=_bounded_int,
            parse_float=_bounded_float,
            parse_constant=_refuse_constant,
        )
    except _NumberError as exc:
        raise DecodeError("impossible_value", f"phyphox {what} holds {exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise DecodeError(
            "bad_json", f"phyphox {what} is not JSON; it begins {_preview(text)}"
        ) from None


def _load(text: str | bytes, what: str) -> dict[str, Any]:
    doc = _load_json(text, what)
    if not isinstance(doc, dict):
        raise DecodeError(
            "bad_json", f"phyphox {what} must be a JSON object; it begins {_preview(text)}"
        )
    return doc


def _get(doc: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    if key not in doc:
        raise DecodeError("missing_key", f"phyphox {what} lacks {key!r}")
    value = doc[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise DecodeError("bad_json", f"phyphox {what} {key!r} has the wrong type")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


@dataclass(frozen=True)
class PhyphoxBuffer:
    """One buffer of a `/get` answer; `values` with NaN for `null`."""

    size: int
    update_mode: str
    values: FloatArray


@dataclass(frozen=True)
class PhyphoxStatus:
    """The `status` object: a changed `session` means the user switched experiment."""

    session: str
    measuring: bool
    timed_run: bool
    countdown_ms: float


@dataclass(frozen=True)
class GetResponse:
    """A `/get` answer. Buffers the experiment lacks are silently absent."""

    buffers: Mapping[str, PhyphoxBuffer]
    status: PhyphoxStatus | None


def _to_float(value: object) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError("bad_json", f"phyphox buffer value {value!r} is not a number")
    return float(value)


def _parse_buffer(name: str, doc: object) -> PhyphoxBuffer:
    if not isinstance(doc, dict):
        raise DecodeError("bad_json", f"phyphox buffer {name!r} is not an object")
    raw = _get(doc, "buffer", list, f"buffer {name!r}")
    size = _get(doc, "size", int, f"buffer {name!r}")
    mode = _get(doc, "updateMode", str, f"buffer {name!r}")
    return PhyphoxBuffer(size, mode, np.array([_to_float(v) for v in raw], dtype=np.float64))


def _parse_status(doc: object) -> PhyphoxStatus:
    if not isinstance(doc, dict):
        raise DecodeError("bad_json", "phyphox status is not an object")
    return PhyphoxStatus(
        session=str(_get(doc, "session", (str, int), "status")),
        measuring=_get(doc, "measuring", bool, "status"),
        timed_run=_get(doc, "timedRun", bool, "status"),
        countdown_ms=float(_get(doc, "countDown", (int, float), "status")),
    )


def parse_get(text: str | bytes) -> GetResponse:
    """Parse a `/get` answer."""
    doc = _load(text, "/get answer")
    buffers_doc = _get(doc, "buffer", dict, "/get answer")
    buffers = {str(name): _parse_buffer(str(name), b) for name, b in buffers_doc.items()}
    status = _parse_status(doc["status"]) if "status" in doc else None
    return GetResponse(buffers, status)


def parse_control(text: str | bytes) -> bool:
    """Parse a `/control` answer: True if the command was carried out (HTTP is 200 anyway)."""
    return bool(_get(_load(text, "/control answer"), "result", bool, "/control answer"))


@dataclass(frozen=True)
class ExportSet:
    """An export set of `/config`: its name and (label, buffer) columns."""

    name: str
    sources: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PhyphoxConfig:
    """The `/config` answer (phyphox ≥ 1.1.6): what the loaded experiment offers."""

    title: str
    crc32: str
    buffers: Mapping[str, int]
    input_sources: tuple[str, ...]
    exports: tuple[ExportSet, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)

    def has_buffers(self, names: Sequence[str]) -> bool:
        """True if every buffer in `names` exists."""
        return all(name in self.buffers for name in names)


def parse_config(text: str | bytes) -> PhyphoxConfig:
    """Parse `/config`: title, CRC32, buffer sizes, input sources and export sets."""
    doc = _load(text, "/config answer")
    buffers: dict[str, int] = {}
    for item in _get(doc, "buffers", list, "/config answer"):
        if not isinstance(item, dict):
            raise DecodeError("bad_json", "phyphox /config buffer entry is not an object")
        buffers[str(_get(item, "name", str, "/config buffer"))] = int(
            _get(item, "size", int, "/config buffer")
        )
    inputs = tuple(
        str(item.get("source", "")) if isinstance(item, dict) else ""
        for item in _get(doc, "inputs", list, "/config answer")
    )
    exports = tuple(_parse_export(item) for item in _get(doc, "export", list, "/config answer"))
    known = {"title", "crc32", "buffers", "inputs", "export"}
    return PhyphoxConfig(
        title=str(_get(doc, "title", str, "/config answer")),
        crc32=str(_get(doc, "crc32", str, "/config answer")),
        buffers=buffers,
        input_sources=inputs,
        exports=exports,
        extra={k: v for k, v in doc.items() if k not in known},
    )


def _parse_export(item: object) -> ExportSet:
    if not isinstance(item, dict):
        raise DecodeError("bad_json", "phyphox /config export entry is not an object")
    sources = []
    for source in _get(item, "sources", list, "/config export"):
        if not isinstance(source, dict):
            raise DecodeError("bad_json", "phyphox /config export source is not an object")
        label = str(_get(source, "label", str, "/config export source"))
        sources.append((label, str(_get(source, "buffer", str, "/config export source"))))
    return ExportSet(str(_get(item, "set", str, "/config export")), tuple(sources))


def parse_meta(text: str | bytes) -> dict[str, Any]:
    """Parse `/meta` (phyphox ≥ 1.1.8): device and app information; absent keys (Android) and
    null (iOS) both come back as missing."""
    return {k: v for k, v in _load(text, "/meta answer").items() if v is not None}


@dataclass(frozen=True)
class TimeEvent:
    """A `/time` event: START or PAUSE at `experiment_s` (experiment clock) and `system_s`
    (the phone's Unix epoch clock)."""

    event: str
    experiment_s: float
    system_s: float


def parse_time(text: str | bytes) -> tuple[TimeEvent, ...]:
    """Parse `/time` (phyphox ≥ 1.1.8): the list of start/pause events."""
    doc = _load_json(text, "/time answer")
    if not isinstance(doc, list):
        raise DecodeError("bad_json", "phyphox /time answer must be a JSON list")
    events = []
    for item in doc:
        if not isinstance(item, dict):
            raise DecodeError("bad_json", "phyphox /time entry is not an object")
        events.append(
            TimeEvent(
                str(_get(item, "event", str, "/time entry")),
                float(_get(item, "experimentTime", (int, float), "/time entry")),
                float(_get(item, "systemTime", (int, float), "/time entry")),
            )
        )
    return tuple(events)


def experiment_to_system_s(experiment_s: float, events: Sequence[TimeEvent]) -> float:
    """The phone's epoch time (s) of an experiment time, from the last START at or before it.

    Experiment time stands still during pauses, so each START re-anchors the mapping.
    """
    starts = [e for e in events if e.event.upper() == "START" and e.experiment_s <= experiment_s]
    if not starts:
        raise InvalidArgumentError(f"no START event at or before experiment time {experiment_s}")
    anchor = starts[-1]
    return anchor.system_s + (experiment_s - anchor.experiment_s)


# --- samples --------------------------------------------------------------------------------


def columns(
    response: GetResponse, time_buffer: str, value_buffers: Sequence[str]
) -> tuple[FloatArray, FloatArray]:
    """Times (s, experiment clock) and an (n, k) value block from one answer.

    The buffers of one answer can differ by a sample or two (the phone appends while it
    answers): rows are cut to the shortest. Missing buffers raise `missing_key`.
    """
    needed = (time_buffer, *value_buffers)
    absent = [name for name in needed if name not in response.buffers]
    if absent:
        raise DecodeError("missing_key", f"phyphox answer lacks buffers {absent}")
    n = min(response.buffers[name].values.size for name in needed)
    times = response.buffers[time_buffer].values[:n]
    values = np.column_stack([response.buffers[name].values[:n] for name in value_buffers])
    return times, values.reshape(n, len(value_buffers))


def to_si(
    response: GetResponse,
    *,
    acc: tuple[str, Sequence[str]] | None = (ACC_TIME, ACC_BUFFERS),
    gyr: tuple[str, Sequence[str]] | None = None,
) -> Decoded:
    """One quantity per answer as `Decoded` (phyphox already gives m/s^2 and rad/s).

    Give `acc` or `gyr` (time buffer, three value buffers); the experiment clock becomes
    `device_time_s`. Rows whose time is NaN are dropped.
    """
    if (acc is None) == (gyr is None):
        raise InvalidArgumentError("to_si takes exactly one of acc or gyr")
    time_buffer, value_buffers = acc if acc is not None else gyr  # type: ignore[misc]
    if len(value_buffers) != 3:
        raise InvalidArgumentError(f"three value buffers needed, got {list(value_buffers)}")
    times, values = columns(response, time_buffer, value_buffers)
    keep = np.isfinite(times)
    if acc is not None:
        return Decoded(acc_ms2=values[keep], device_time_s=times[keep])
    return Decoded(gyr_rads=values[keep], device_time_s=times[keep])


def check_batch_rate(time_buffer: str, times_s: FloatArray, since_s: float | None) -> None:
    """Refuse new samples (`times_s`, increasing) that outnumber what `MAX_RATE_HZ` allows
    over the time they span since the previous sample `since_s` (or since the first of them)."""
    if times_s.size == 0:
        return
    span_s = float(times_s[-1]) - (float(times_s[0]) if since_s is None else since_s)
    if times_s.size > MAX_RATE_HZ * span_s + RATE_SLACK_SAMPLES:
        raise DecodeError(
            "bad_timestamp",
            f"the phone's {time_buffer} holds {times_s.size} new samples in {span_s:.3g} s,"
            f" above the {MIN_RATE_HZ:g}–{MAX_RATE_HZ:g} Hz a phone sensor delivers",
        )


def nominal_rate_hz(time_buffer: str, times_s: FloatArray) -> float:
    """The mean rate (Hz) of increasing `times_s` (at least two); `DecodeError` outside
    `MIN_RATE_HZ`..`MAX_RATE_HZ`."""
    if times_s.size < 2:
        raise InvalidArgumentError(f"a rate needs at least two times, got {times_s.size}")
    rate_hz = (times_s.size - 1) / float(times_s[-1] - times_s[0])
    if MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ:
        return rate_hz
    side = "above" if rate_hz > MAX_RATE_HZ else "below"
    raise DecodeError(
        "bad_timestamp",
        f"the phone's {time_buffer} timestamps imply {rate_hz:.3g} Hz, {side} the"
        f" {MIN_RATE_HZ:g}–{MAX_RATE_HZ:g} Hz a phone sensor delivers",
    )

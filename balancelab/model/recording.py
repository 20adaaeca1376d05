"""Recorded data: channels, stream specs, trials, recordings and sessions. No I/O.

In memory every value is SI: time in s, acceleration in m/s^2, angular velocity in rad/s,
magnetic field in T, position in m, orientation angles in rad (quaternions unitless).
The on-disk units of FORMAT.md (mm for COP, uT, deg) are converted by `balancelab.formats`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from balancelab.errors import InvalidArgumentError
from balancelab.model.checks import check_choice, check_finite, check_nonnegative, check_positive

FloatArray = NDArray[np.float64]
Matrix3 = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]
IDENTITY3: Matrix3 = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))

_LABEL = re.compile(r"^[A-Za-z0-9]+$")


class ChannelType(StrEnum):
    """BIDS motion channel types used by balancelab."""

    ACCEL = "ACCEL"
    GYRO = "GYRO"
    MAGN = "MAGN"
    ORNT = "ORNT"
    POS = "POS"
    MISC = "MISC"  # balancelab's only MISC channel: vertical force (N) under a plate


SI_UNITS: Mapping[ChannelType, str] = {
    ChannelType.ACCEL: "m/s^2",
    ChannelType.GYRO: "rad/s",
    ChannelType.MAGN: "T",
    ChannelType.ORNT: "rad",
    ChannelType.POS: "m",
    ChannelType.MISC: "N",
}
QUANTITY_NAMES: Mapping[ChannelType, str] = {
    ChannelType.ACCEL: "acc",
    ChannelType.GYRO: "gyr",
    ChannelType.MAGN: "mag",
    ChannelType.ORNT: "ori",
    ChannelType.POS: "pos",
    ChannelType.MISC: "force",
}
TRACKED_POINTS = ("board", "lowback", "sternum", "cop")
STANDARD_GRAVITY_MS2 = 9.80665
UNKNOWN_START_UTC = datetime(2000, 1, 1, tzinfo=UTC)
"""The start time of a recording whose source gave no clock (e.g. a force-plate text file)."""


class TrialType(StrEnum):
    SINGLE_LEG_HOLD = "single_leg_hold"
    DOUBLE_LEG_HOLD = "double_leg_hold"
    STEP_DOWN = "step_down"
    HOP_STABILIZE = "hop_stabilize"
    CALIBRATION = "calibration"


class Side(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    BOTH = "both"


class Surface(StrEnum):
    FIRM = "firm"
    FOAM = "foam"
    WOBBLE_BOARD = "wobble_board"


class Vision(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Outcome(StrEnum):
    COMPLETED = "completed"
    TOUCHDOWN = "touchdown"
    ABORTED = "aborted"


# Longest label: a file name holds the athlete, task and tracking-system labels plus ~56
# characters of entities and suffix, and file systems allow 255 bytes per name.
MAX_LABEL_CHARS = 64


def check_label(kind: str, value: str) -> str:
    """Return `value` if it is a BIDS label (letters and digits, <= 64), else raise."""
    if not _LABEL.match(value):
        raise InvalidArgumentError(
            f"{kind} label {value[:40]!r}{'...' if len(value) > 40 else ''} is not allowed:"
            " use letters and digits only",
            advice=f"Choose a {kind} label such as 'ana01' (no spaces, dashes or slashes).",
        )
    if len(value) > MAX_LABEL_CHARS:
        raise InvalidArgumentError(
            f"{kind} label {value[:20]!r}... has {len(value)} characters; at most"
            f" {MAX_LABEL_CHARS} fit in the recording's file names",
            advice=f"Choose a shorter {kind} label, such as 'ana01'.",
        )
    return value


def session_label(start_utc: datetime) -> str:
    """The BIDS session label `YYYYMMDDTHHMMSS` of a session start, in UTC."""
    if start_utc.tzinfo is None:
        raise InvalidArgumentError("session start must be timezone-aware (UTC is stored)")
    return start_utc.astimezone(UTC).strftime("%Y%m%dT%H%M%S")


def parse_session_label(label: str) -> datetime:
    """The UTC start time encoded in a session label `YYYYMMDDTHHMMSS`."""
    try:
        return datetime.strptime(label, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidArgumentError(
            f"session label {label!r} is not of the form YYYYMMDDTHHMMSS"
        ) from None


@dataclass(frozen=True)
class Channel:
    """One column of a motion stream; `units` is the SI unit of the in-memory values."""

    name: str
    type: ChannelType
    component: str
    tracked_point: str
    units: str

    @classmethod
    def make(cls, tracked_point: str, type: ChannelType, component: str) -> Channel:
        """A channel named `<tracked_point>_<quantity>_<component>` with its SI unit."""
        check_choice("tracked_point", tracked_point, TRACKED_POINTS)
        name = f"{tracked_point}_{QUANTITY_NAMES[type]}_{component}"
        units = si_unit(type, component)
        return cls(name, type, component, tracked_point, units)


def imu_channels(tracked_point: str, *, gyro: bool = True) -> tuple[Channel, ...]:
    """Accelerometer (and gyroscope) x/y/z channels for one tracked point."""
    types = (ChannelType.ACCEL, ChannelType.GYRO) if gyro else (ChannelType.ACCEL,)
    return tuple(Channel.make(tracked_point, t, axis) for t in types for axis in "xyz")


def cop_channels(*, force: bool = False) -> tuple[Channel, ...]:
    """Centre-of-pressure x (medio-lateral) and y (antero-posterior) channels (m); with `force`
    also the plate's vertical force `cop_force_z` (N, MISC, optional in FORMAT.md)."""
    pos = (Channel.make("cop", ChannelType.POS, "x"), Channel.make("cop", ChannelType.POS, "y"))
    return (*pos, Channel.make("cop", ChannelType.MISC, "z")) if force else pos


COP_FORCE_CHANNEL = "cop_force_z"
"""The optional vertical-force channel of a COP recording (N)."""


@dataclass(frozen=True)
class Trial:
    """One row of events.tsv: a test trial on the session clock (s)."""

    onset_s: float
    duration_s: float
    trial_type: TrialType
    side: Side
    surface: Surface
    vision: Vision
    outcome: Outcome = Outcome.COMPLETED

    def __post_init__(self) -> None:
        check_finite("trial onset_s", self.onset_s, "s")
        check_nonnegative("trial duration_s", self.duration_s, "s")

    @property
    def end_s(self) -> float:
        """End of the trial on the session clock (s)."""
        return self.onset_s + self.duration_s


@dataclass(frozen=True)
class DeviceInfo:
    """What is known of the sensor that produced a stream (all optional)."""

    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    address: str | None = None
    firmware: str | None = None
    battery_pct: float | None = None


TIME_CHANNEL = "time"
"""The time column of a motion stream: no channel may take its name."""


def si_unit(type_: ChannelType, component: str) -> str:
    """The in-memory unit of a channel (quaternion components are unitless, `n/a`)."""
    return "n/a" if component.startswith("quat") else SI_UNITS[type_]


@dataclass(frozen=True)
class StreamSpec:
    """One sensor's stream: tracksys label, channels (SI units), nominal rate (Hz), metadata."""

    tracksys: str
    channels: tuple[Channel, ...]
    nominal_fs_hz: float
    device: DeviceInfo = field(default_factory=DeviceInfo)
    sensor_to_segment: Mapping[str, Matrix3] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_label("tracksys", self.tracksys)
        check_positive("nominal_fs_hz", self.nominal_fs_hz, "Hz")
        names = [c.name for c in self.channels]
        if not names or len(set(names)) != len(names) or TIME_CHANNEL in names:
            raise InvalidArgumentError(
                f"channels of {self.tracksys!r} must be non-empty, unique and not 'time': {names}"
            )
        for channel in self.channels:
            if channel.component.startswith("quat") and channel.type is not ChannelType.ORNT:
                raise InvalidArgumentError(
                    f"channel {channel.name!r} is a quaternion component of type {channel.type};"
                    f" only {ChannelType.ORNT} channels hold quaternions"
                )
            expected = si_unit(channel.type, channel.component)
            if channel.units != expected:
                raise InvalidArgumentError(
                    f"channel {channel.name!r} has units {channel.units!r}; in memory"
                    f" {channel.type} values must be in {expected}"
                )


@dataclass(frozen=True, eq=False)
class Recording:
    """One continuous stream from one sensor (`tracksys`) in one session.

    `time_s` (n,) is seconds since the session onset, strictly increasing; `values` (n, c) holds
    the channels in SI units with NaN where a sample was lost.
    """

    time_s: FloatArray
    values: FloatArray
    channels: tuple[Channel, ...]
    nominal_fs_hz: float
    tracksys: str
    athlete: str = "anon"
    start_utc: datetime = UNKNOWN_START_UTC
    task: str = "balance"
    trials: tuple[Trial, ...] = ()
    device: DeviceInfo = field(default_factory=DeviceInfo)
    sensor_to_segment: Mapping[str, Matrix3] = field(default_factory=dict)
    lost_samples: int = 0

    def __post_init__(self) -> None:
        time_s = np.ascontiguousarray(self.time_s, dtype=np.float64)
        values = np.ascontiguousarray(self.values, dtype=np.float64)
        if values.ndim == 1 and len(self.channels) == 1:
            values = values.reshape(-1, 1)
        object.__setattr__(self, "time_s", time_s)
        object.__setattr__(self, "values", values)
        for kind, label in (("athlete", self.athlete), ("task", self.task)):
            check_label(kind, label)
        check_label("tracksys", self.tracksys)
        if time_s.ndim != 1 or values.ndim != 2:
            raise InvalidArgumentError("time_s must be 1-D and values 2-D (samples x channels)")
        if values.shape != (time_s.size, len(self.channels)):
            raise InvalidArgumentError(
                f"values has shape {values.shape}, expected ({time_s.size}, {len(self.channels)})"
                " (one row per time, one column per channel)"
            )
        if not np.all(np.isfinite(time_s)):
            raise InvalidArgumentError("time_s contains NaN or infinite values")
        if time_s.size > 1 and not np.all(np.diff(time_s) > 0):
            raise InvalidArgumentError("time_s must be strictly increasing")
        check_positive("nominal_fs_hz", self.nominal_fs_hz, "Hz")
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise InvalidArgumentError(f"channel names repeat: {names}")
        if self.start_utc.tzinfo is None:
            raise InvalidArgumentError("start_utc must be timezone-aware")

    @property
    def session(self) -> str:
        """The BIDS session label of this recording's start."""
        return session_label(self.start_utc)

    @property
    def duration_s(self) -> float:
        """Time span from the first to the last sample (s)."""
        return float(self.time_s[-1] - self.time_s[0]) if self.time_s.size > 1 else 0.0

    @property
    def effective_fs_hz(self) -> float:
        """Mean sample rate over the stream (Hz), counting lost (NaN) rows as samples."""
        return (self.time_s.size - 1) / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)

    def channel(self, name: str) -> FloatArray:
        """The values of one channel (SI units), a view into `values`."""
        try:
            index = self.channel_names.index(name)
        except ValueError:
            raise InvalidArgumentError(
                f"no channel {name!r}; this recording has {', '.join(self.channel_names)}"
            ) from None
        return self.values[:, index]

    def has_channel(self, name: str) -> bool:
        return name in self.channel_names


@dataclass(frozen=True, eq=False)
class Session:
    """One session of one athlete: a recording per sensor, sharing one clock and trial list."""

    recordings: tuple[Recording, ...]

    def __post_init__(self) -> None:
        if not self.recordings:
            raise InvalidArgumentError("a session needs at least one recording")
        first = self.recordings[0]
        for rec in self.recordings[1:]:
            if (rec.athlete, rec.session, rec.task) != (first.athlete, first.session, first.task):
                raise InvalidArgumentError(
                    "all recordings of a session must share athlete, session and task"
                )
        systems = [r.tracksys for r in self.recordings]
        if len(set(systems)) != len(systems):
            raise InvalidArgumentError(f"tracksys labels repeat in one session: {systems}")

    @property
    def athlete(self) -> str:
        return self.recordings[0].athlete

    @property
    def start_utc(self) -> datetime:
        return self.recordings[0].start_utc

    @property
    def session(self) -> str:
        return self.recordings[0].session

    @property
    def task(self) -> str:
        return self.recordings[0].task

    @property
    def trials(self) -> tuple[Trial, ...]:
        return self.recordings[0].trials

    def recording(self, tracksys: str) -> Recording:
        """The stream of one sensor, by its tracksys label."""
        for rec in self.recordings:
            if rec.tracksys == tracksys:
                return rec
        raise InvalidArgumentError(
            f"no recording with tracksys {tracksys!r}; have "
            + ", ".join(r.tracksys for r in self.recordings)
        )

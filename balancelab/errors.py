"""Domain errors and trouble as data. Each error carries `code` (a short word a program acts
on), `message` and `advice` (what a person can do about it); `Trouble` is the same three as a
value, for events that report a problem without raising it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Trouble:
    """A problem as data: `code` a short word a program (a GUI) acts on, `message` what
    happened, `advice` what a person can do ("" when nothing is needed of them)."""

    code: str
    message: str
    advice: str = ""

    def __str__(self) -> str:
        return f"{self.message} — {self.advice}" if self.advice else self.message


class BalancelabError(Exception):
    """Base of every error balancelab raises on purpose.

    `message` says what happened (and where: file, line, device); `advice` says what to do.
    """

    code = "error"
    default_advice = "See the message above; run with --debug for technical details."

    def __init__(self, message: str, advice: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.advice = advice or self.default_advice

    def __str__(self) -> str:
        return self.message

    @property
    def trouble(self) -> Trouble:
        """This error as data (code, message, advice)."""
        return Trouble(self.code, self.message, self.advice)


class InvalidArgumentError(BalancelabError, ValueError):
    """A parameter has a value outside what is allowed."""

    code = "invalid_argument"
    default_advice = "Check the value against the allowed ones named in the message."


class FormatError(BalancelabError):
    """A file could not be read: truncated, foreign, malformed or with unknown units."""

    code = "bad_file"
    default_advice = (
        "Check that the file is the kind the importer expects and that it was copied whole."
    )

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        advice: str | None = None,
    ) -> None:
        where = ""
        if path is not None:
            where = f"{path}" + (f", line {line}" if line is not None else "") + ": "
        super().__init__(where + message, advice)
        self.path = path
        self.line = line


class DatasetError(BalancelabError):
    """A dataset folder is missing, not a balancelab/BIDS dataset, or cannot be written."""

    code = "dataset"
    default_advice = "Check the folder path; a new dataset is created on the first recording."


class SimulationError(BalancelabError):
    """A simulator scenario or parameter cannot be run."""

    code = "simulation"
    default_advice = "Run `balancelab simulate --list` to see the scenarios and their parameters."


DECODE_REASONS: frozenset[str] = frozenset(
    {
        "too_short",  # fewer bytes than the fixed part of the layout
        "bad_length",  # length does not match what the header announces
        "unknown_frame",  # frame/measurement type or magic byte not recognised
        "bad_version",  # a profile/format version this decoder does not speak
        "impossible_value",  # a field outside what the device can produce
        "bad_timestamp",  # timestamps that cannot be placed (negative, no rate to space them)
        "bad_json",  # text that is not JSON, or JSON of the wrong shape
        "missing_key",  # a required JSON key is absent
    }
)
"""Every `DecodeError.reason` a device decoder uses."""


class DecodeError(BalancelabError):
    """A packet or response was refused; `reason` is one of `DECODE_REASONS` (a source counts
    it with `SourceStats.reject(reason)`)."""

    code = "bad_packet"
    default_advice = (
        "A malformed packet was dropped and counted; if many are, check the device firmware "
        "and its settings against firmware_notes/."
    )

    def __init__(self, reason: str, message: str, advice: str | None = None) -> None:
        if reason not in DECODE_REASONS:
            raise ValueError(f"unknown decode reason {reason!r}; allowed: {sorted(DECODE_REASONS)}")
        super().__init__(f"{reason}: {message}", advice)
        self.reason = reason


class BluetoothError(BalancelabError):
    """Bluetooth itself failed (adapter, OS stack); the message says what was reported."""

    code = "bluetooth_failed"
    default_advice = (
        "Check that Bluetooth is switched on and that balancelab may use it "
        "(on Linux: bluetoothd runs and you are in the 'bluetooth' group)."
    )


class BluetoothUnavailableError(BluetoothError):
    """No usable Bluetooth adapter: off, absent or not permitted."""

    code = "bluetooth_unavailable"


SENSOR_AWAY_ADVICE = (
    "Switch the sensor on (and wake it: Polar straps need skin contact), bring it within a "
    "few metres, close other apps connected to it, then run `balancelab scan`."
)


class SensorNotFoundError(BalancelabError):
    """No sensor with that address or name answered."""

    code = "sensor_not_found"
    default_advice = SENSOR_AWAY_ADVICE


class LinkLostError(BalancelabError):
    """The link to a sensor could not be made or ended: not seen, a connection or GATT
    operation that failed or timed out, a drop, a long silence. Reconnecting may help."""

    code = "link_lost"
    default_advice = SENSOR_AWAY_ADVICE


class SensorProtocolError(BalancelabError):
    """The sensor answered its set-up in a way balancelab cannot use (wrong profile, refused
    command, a kind it cannot stream); reconnecting will not help."""

    code = "sensor_unsupported"
    default_advice = (
        "Check that the sensor runs the firmware balancelab expects (firmware_notes/), "
        "restart it and try again; pass the sensor kind explicitly if it was guessed wrong."
    )

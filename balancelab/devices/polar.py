"""Polar Measurement Data (PMD): data frames → SI.

Source: Polar's `online_measurement.pdf` (v1.0, 2024, in Polar's public SDK,
github.com/polarofficial/polar-ble-sdk `technical_documentation/`) and the behaviour asserted by
that SDK's own Android and iOS tests (© Polar Electro Oy). Control point:
balancelab.devices.polar_control.

Data notification: `[0] measurement type · [1..8] u64 LE ns since 2000-01-01 (device clock) of
the LAST sample · [9] frame type (bit 7 = delta-compressed) · [10..] content`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from balancelab.devices.common import (
    DEG_TO_RAD,
    GAUSS_TO_T,
    MG_TO_MS2,
    POLAR_PMD_SERVICE_UUID,
    Decoded,
    IntArray,
    require_length,
)
from balancelab.devices.polar_control import MeasurementType
from balancelab.errors import DecodeError
from balancelab.model import FloatArray

SERVICE_UUID = POLAR_PMD_SERVICE_UUID
DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
HEADER_SIZE = 10
COMPRESSED_BIT = 0x80
NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class PmdFrame:
    """A data notification split into its header fields and content."""

    measurement: int
    timestamp_ns: int
    compressed: bool
    frame_type: int
    content: bytes


def split_frame(payload: bytes) -> PmdFrame:
    """Split a data notification; the measurement type is byte 0 masked with 0x3F."""
    payload = bytes(payload)
    require_length(payload, HEADER_SIZE + 1, "PMD data frame")
    timestamp_ns = int.from_bytes(payload[1:9], "little")
    frame_byte = payload[9]
    return PmdFrame(
        payload[0] & 0x3F,
        timestamp_ns,
        bool(frame_byte & COMPRESSED_BIT),
        frame_byte & 0x7F,
        payload[HEADER_SIZE:],
    )


def decode_reference(
    content: bytes, channels: int, resolution_bits: int, *, float_bits: bool = False
) -> list[int]:
    """The reference sample of a compressed frame: `channels` × ceil(resolution/8) bytes LE,
    signed integers (or unsigned 32-bit float bit patterns with `float_bits`)."""
    width = math.ceil(resolution_bits / 8)
    require_length(content, channels * width, "PMD reference sample")
    return [
        int.from_bytes(content[i * width : (i + 1) * width], "little", signed=not float_bits)
        for i in range(channels)
    ]


def decode_delta(
    content: bytes, channels: int, resolution_bits: int, *, float_bits: bool = False
) -> IntArray:
    """Delta-compressed content → (n, channels) integer samples (float32 bit patterns with
    `float_bits`, to which deltas are added modulo 2**32).

    After the reference sample come blocks `[bit width u8][count u8][count × channels deltas,
    two's complement, packed LSB-first, padded to a byte]`, each added to the previous sample.
    """
    content = bytes(content)
    rows = [np.array([decode_reference(content, channels, resolution_bits, float_bits=float_bits)])]
    offset = channels * math.ceil(resolution_bits / 8)
    while offset < len(content):
        deltas, offset = _read_block(content, offset, channels)
        rows.append(rows[-1][-1] + np.cumsum(deltas, axis=0))
        if float_bits:
            rows[-1] &= 0xFFFFFFFF
    return np.concatenate(rows).astype(np.int64)


def _read_block(content: bytes, offset: int, channels: int) -> tuple[IntArray, int]:
    if offset + 2 > len(content):
        raise DecodeError("bad_length", "PMD delta block header cut short")
    width, count = content[offset], content[offset + 1]
    if not 1 <= width <= 32 or count == 0:
        raise DecodeError("impossible_value", f"PMD delta block of width {width}, count {count}")
    n_bits = width * count * channels
    start, end = offset + 2, offset + 2 + math.ceil(n_bits / 8)
    if end > len(content):
        raise DecodeError("bad_length", f"PMD delta block needs {end - start} bytes")
    bits = np.unpackbits(np.frombuffer(content[start:end], np.uint8), bitorder="little")
    fields = bits[:n_bits].reshape(-1, width).astype(np.int64)
    values = fields @ (np.int64(1) << np.arange(width, dtype=np.int64))
    values = np.where(values >= 1 << (width - 1), values - (1 << width), values)
    return values.reshape(count, channels), end


def _round_half_even_div(numerator: int, denominator: int) -> int:
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


def sample_timestamps_ns(
    previous_ns: int, frame_ns: int, n_samples: int, sample_rate_hz: float
) -> list[int]:
    """Per-sample device times (ns) by the SDK rule: the last is the frame's timestamp; the
    others evenly between the previous frame's timestamp and it (rounded, ties to even), or,
    for the first frame (`previous_ns` 0), spaced 1/`sample_rate_hz` back from it."""
    if n_samples <= 0:
        return []
    if previous_ns != 0:
        if frame_ns <= previous_ns:
            raise DecodeError("bad_timestamp", f"PMD frame time {frame_ns} ≤ previous")
        span = frame_ns - previous_ns
        return [
            previous_ns + _round_half_even_div(span * (i + 1), n_samples) for i in range(n_samples)
        ]
    if n_samples == 1:
        return [frame_ns]
    if not sample_rate_hz > 0:
        raise DecodeError("bad_timestamp", "first PMD frame and no sample rate to space it")
    step_ns = NS_PER_S / sample_rate_hz
    times = [frame_ns - round(step_ns * (n_samples - 1 - i)) for i in range(n_samples)]
    if times[0] < 0:
        raise DecodeError("bad_timestamp", "PMD sample timestamps would be negative")
    return times


@dataclass(frozen=True)
class _Format:
    """How one (measurement, compressed, frame type) is laid out and scaled."""

    channels: int
    resolution_bits: int
    is_float: bool
    unit: str


_FORMATS: Mapping[tuple[int, bool, int], _Format] = {
    (MeasurementType.ACC, False, 0): _Format(3, 8, False, "mG"),
    (MeasurementType.ACC, False, 1): _Format(3, 16, False, "mG"),
    (MeasurementType.ACC, False, 2): _Format(3, 24, False, "mG"),
    (MeasurementType.ACC, True, 0): _Format(3, 16, False, "mG"),
    (MeasurementType.ACC, True, 1): _Format(3, 16, False, "mG"),
    (MeasurementType.GYRO, False, 0): _Format(3, 16, False, "deg/s"),
    (MeasurementType.GYRO, False, 1): _Format(3, 32, True, "deg/s"),
    (MeasurementType.GYRO, True, 0): _Format(3, 16, False, "deg/s"),
    (MeasurementType.GYRO, True, 1): _Format(3, 32, True, "deg/s"),
    (MeasurementType.MAG, False, 0): _Format(3, 16, False, "G"),
    (MeasurementType.MAG, True, 0): _Format(3, 16, False, "G"),
    (MeasurementType.MAG, True, 1): _Format(4, 16, False, "G"),
}


@dataclass(frozen=True)
class PmdSamples:
    """Decoded samples in the SDK's units: ACC mG (integers), GYRO deg/s, MAG gauss.

    `values` (n, 3); `status` (n,) the magnetometer calibration status (MAG compressed type 1:
    0 unknown, 1 poor, 2 ok, 3 good) or None; `timestamps_ns` device clock per sample.
    """

    measurement: MeasurementType
    timestamps_ns: list[int]
    values: FloatArray
    unit: str
    raw: IntArray
    status: IntArray | None = None

    @property
    def n_samples(self) -> int:
        """Samples in the frame."""
        return int(self.values.shape[0])


def _raw_counts(content: bytes, fmt: _Format) -> IntArray:
    width = fmt.resolution_bits // 8
    size = width * fmt.channels
    if not content or len(content) % size:
        raise DecodeError("bad_length", f"PMD raw content of {len(content)} bytes, not n × {size}")
    if fmt.is_float:
        patterns = np.frombuffer(content, "<u4").astype(np.int64)
        return patterns.reshape(-1, fmt.channels)
    data = np.frombuffer(content, np.uint8).reshape(-1, width).astype(np.int64)
    values = data @ (np.int64(1) << (8 * np.arange(width, dtype=np.int64)))
    sign = np.int64(1) << (8 * width - 1)
    values = np.where(values >= sign, values - 2 * sign, values)
    return values.reshape(-1, fmt.channels)


def _scale(frame: PmdFrame, fmt: _Format, raw: IntArray, factor: float) -> FloatArray:
    """The SDK's conversion to its output units (float32 arithmetic, as in the SDK)."""
    f32 = np.float32(factor)
    counts = raw[:, :3]
    if fmt.is_float:
        floats = counts.astype(np.uint32).view(np.float32)
        return (floats * f32).astype(np.float64)
    if frame.measurement == MeasurementType.ACC:
        per_count = f32 * np.float32(1000.0) if frame.compressed and frame.frame_type == 0 else f32
        truncated = np.trunc(counts.astype(np.float32) * per_count)
        return np.asarray(truncated, dtype=np.float64)
    if frame.measurement == MeasurementType.MAG and frame.compressed and frame.frame_type == 1:
        return (counts.astype(np.float32) / np.float32(1000.0) * f32).astype(np.float64)
    return (counts.astype(np.float32) * f32).astype(np.float64)


def decode_frame(
    frame: PmdFrame,
    *,
    factor: float = 1.0,
    previous_timestamp_ns: int = 0,
    sample_rate_hz: float = 0.0,
) -> PmdSamples:
    """Decode an ACC, GYRO or MAG frame; other measurements raise `unknown_frame`."""
    fmt = _FORMATS.get((frame.measurement, frame.compressed, frame.frame_type))
    if fmt is None:
        raise DecodeError(
            "unknown_frame",
            f"PMD measurement {frame.measurement} frame type {frame.frame_type}"
            f"{' (compressed)' if frame.compressed else ''} is not decoded",
        )
    if frame.compressed:
        raw = decode_delta(
            frame.content, fmt.channels, fmt.resolution_bits, float_bits=fmt.is_float
        )
    else:
        raw = _raw_counts(frame.content, fmt)
    times = sample_timestamps_ns(
        previous_timestamp_ns, frame.timestamp_ns, raw.shape[0], sample_rate_hz
    )
    return PmdSamples(
        MeasurementType(frame.measurement),
        times,
        _scale(frame, fmt, raw, factor),
        fmt.unit,
        raw,
        raw[:, 3].copy() if fmt.channels == 4 else None,
    )


_SI_FACTORS = {"mG": MG_TO_MS2, "deg/s": DEG_TO_RAD, "G": GAUSS_TO_T}


def to_si(samples: PmdSamples) -> Decoded:
    """ACC → m/s^2, GYRO → rad/s, MAG → T; device times in s since 2000-01-01 (device clock)."""
    si = samples.values * _SI_FACTORS[samples.unit]
    device_s = np.array(samples.timestamps_ns, dtype=np.float64) / NS_PER_S
    if samples.measurement == MeasurementType.ACC:
        return Decoded(acc_ms2=si, device_time_s=device_s)
    if samples.measurement == MeasurementType.GYRO:
        return Decoded(gyr_rads=si, device_time_s=device_s)
    return Decoded(mag_t=si, device_time_s=device_s)


class PmdStream:
    """Decodes the data notifications of one started measurement, remembering the previous
    frame's timestamp (for sample times) and the conversion factor and rate it was started
    with. Frames of other measurement types raise `unknown_frame`."""

    def __init__(
        self, measurement: MeasurementType, *, sample_rate_hz: float, factor: float = 1.0
    ) -> None:
        self.measurement = measurement
        self.sample_rate_hz = sample_rate_hz
        self.factor = factor
        self.previous_timestamp_ns = 0

    def decode(self, payload: bytes) -> PmdSamples:
        """Decode one notification; the previous timestamp advances only when it succeeds."""
        frame = split_frame(payload)
        if frame.measurement != self.measurement:
            raise DecodeError(
                "unknown_frame",
                f"PMD frame of type {frame.measurement} in a {self.measurement.name} stream",
            )
        samples = decode_frame(
            frame,
            factor=self.factor,
            previous_timestamp_ns=self.previous_timestamp_ns,
            sample_rate_hz=self.sample_rate_hz,
        )
        self.previous_timestamp_ns = frame.timestamp_ns
        return samples

"""Property tests: any bytes or text give a result or a `DecodeError` with a known reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balancelab.devices import diy, movesense, phyphox, polar, polar_control, witmotion
from balancelab.errors import DECODE_REASONS, DecodeError

FAST = settings(max_examples=100, deadline=None)


def _decode_or_reject(decode: Callable[[], Any]) -> None:
    try:
        decode()
    except DecodeError as error:
        assert error.reason in DECODE_REASONS and error.message


def _pmd_frame(data: bytes) -> None:
    polar.decode_frame(polar.split_frame(data), sample_rate_hz=52, previous_timestamp_ns=0)


BYTE_DECODERS: list[Callable[[bytes], object]] = [
    diy.decode_data,
    diy.decode_config,
    diy.decode_clock,
    diy.decode_battery,
    diy.decode_capabilities,
    polar.split_frame,
    _pmd_frame,
    polar_control.parse_settings,
    polar_control.parse_control_response,
    polar_control.parse_features,
    lambda b: polar.decode_delta(b, 3, 16),
    lambda b: polar.decode_delta(b, 3, 32, float_bits=True),
    witmotion.decode_notification,
    lambda b: movesense.decode_notification(b, movesense.parse_path("/Meas/IMU9/52")),
    phyphox.parse_get,
    phyphox.parse_time,
]


@pytest.mark.parametrize("decode", BYTE_DECODERS)
@FAST
@given(data=st.binary(max_size=300))
def test_random_bytes_are_decoded_or_rejected(
    decode: Callable[[bytes], object], data: bytes
) -> None:
    _decode_or_reject(lambda: decode(data))


PMD_HEADERS = st.sampled_from([b"\x02", b"\x05", b"\x06"]).map(
    lambda t: t + (2_000_000_000).to_bytes(8, "little")
)


@FAST
@given(
    header=PMD_HEADERS,
    frame_type=st.sampled_from([0x00, 0x01, 0x02, 0x80, 0x81]),
    content=st.binary(min_size=1, max_size=200),
)
def test_plausible_pmd_frames(header: bytes, frame_type: int, content: bytes) -> None:
    _decode_or_reject(lambda: _pmd_frame(header + bytes([frame_type]) + content))


@FAST
@given(
    header=st.sampled_from([b"\x55\x61", b"\x55\x71", b"\x55\x51"]),
    body=st.binary(min_size=18, max_size=18),
    frames=st.integers(1, 4),
    tail=st.binary(max_size=3),
)
def test_plausible_witmotion_notifications(
    header: bytes, body: bytes, frames: int, tail: bytes
) -> None:
    _decode_or_reject(lambda: witmotion.decode_notification((header + body) * frames + tail))


SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4)
JSON_VALUES = (
    SCALARS | st.lists(SCALARS, max_size=4) | st.dictionaries(st.text(max_size=6), SCALARS)
)
KEYED = st.fixed_dictionaries(
    {},
    optional={
        "buffer": st.dictionaries(
            st.text(max_size=5),
            st.fixed_dictionaries(
                {},
                optional={"size": JSON_VALUES, "updateMode": JSON_VALUES, "buffer": JSON_VALUES},
            ),
        ),
        "status": JSON_VALUES,
        "result": JSON_VALUES,
        "title": JSON_VALUES,
        "crc32": JSON_VALUES,
        "buffers": JSON_VALUES,
        "inputs": JSON_VALUES,
        "export": JSON_VALUES,
    },
)


@pytest.mark.parametrize(
    "parse", [phyphox.parse_get, phyphox.parse_control, phyphox.parse_config, phyphox.parse_meta]
)
@FAST
@given(doc=KEYED | JSON_VALUES)
def test_random_json_is_parsed_or_rejected(parse: Callable[[str], object], doc: object) -> None:
    _decode_or_reject(lambda: parse(json.dumps(doc)))


SAMPLES = st.integers(1, 20).flatmap(
    lambda n: st.lists(
        st.lists(st.integers(-32768, 32767), min_size=6, max_size=6), min_size=n, max_size=n
    )
)


@FAST
@given(
    index=st.integers(0, 2**20),
    t_us=st.integers(0, 2**40),
    samples=SAMPLES,
    flags=st.integers(0, 15),
)
def test_diy_round_trip(index: int, t_us: int, samples: list[list[int]], flags: int) -> None:
    packet = diy.decode_data(diy.encode_data(index, t_us, samples, flags=flags))
    assert packet.first_index == index % 2**16 and packet.t_first_us == t_us % 2**32
    assert packet.raw.tolist() == samples
    assert int(packet.flags) == (flags & 0x0E) | 0x01


@FAST
@given(
    odr=st.integers(1, 65535),
    per_packet=st.integers(0, 255),
    acc_lsb=st.floats(2**-20, 1.0, width=32),
    gyro_lsb=st.floats(2**-20, 1.0, width=32),
)
def test_diy_config_round_trip(odr: int, per_packet: int, acc_lsb: float, gyro_lsb: float) -> None:
    config = diy.DiyConfig(odr, 8, per_packet, 2000, acc_lsb, gyro_lsb)
    assert diy.decode_config(diy.encode_config(config)) == config


@FAST
@given(
    reference=st.lists(st.integers(-32768, 32767), min_size=3, max_size=3),
    deltas=st.lists(st.lists(st.integers(-8, 7), min_size=3, max_size=3), min_size=1, max_size=40),
)
def test_pmd_delta_round_trip(reference: list[int], deltas: list[list[int]]) -> None:
    bits = "".join(
        format(d & 0xF, "04b")[::-1] for row in deltas for d in row
    )  # LSB-first, 4-bit two's complement
    bits += "0" * (-len(bits) % 8)
    packed = bytes(int(bits[i : i + 8][::-1], 2) for i in range(0, len(bits), 8))
    content = (
        b"".join(v.to_bytes(2, "little", signed=True) for v in reference)
        + bytes([4, len(deltas)])
        + packed
    )
    expected = np.cumsum(np.vstack([reference, deltas]), axis=0)
    assert polar.decode_delta(content, 3, 16).tolist() == expected.tolist()

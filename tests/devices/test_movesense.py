"""Movesense GSP: captured `/Meas/Acc`, `/Gyro`, `/Magn`, `/IMU6` and `/IMU9` payloads and
their expected values, from the public validation fixtures of sensein/movesense-py (checked
there against Movesense's SBEM-to-JSON conversion)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from balancelab.devices import movesense
from balancelab.devices.common import DEG_TO_RAD
from balancelab.errors import DecodeError
from tests.support import SHARED

VECTORS = json.loads((SHARED / "devices" / "vectors" / "movesense_imu.json").read_text())["vectors"]
BLOCKS = {"ArrayAcc": "acc_ms2", "ArrayGyro": "gyro_dps", "ArrayMagn": "mag_ut"}


@pytest.mark.parametrize("vector", [pytest.param(v, id=v["id"]) for v in VECTORS])
def test_capture_vectors(vector: dict[str, Any]) -> None:
    path = movesense.parse_path(vector["subscription_path"])
    samples = movesense.decode_payload(bytes.fromhex(vector["hex"]), path)
    expected = vector["expected"]
    assert samples.timestamp_ms == expected["timestamp_ms"]
    for key, field in BLOCKS.items():
        block = getattr(samples, field)
        if key in expected:
            np.testing.assert_allclose(block, expected[key], rtol=0, atol=expected["tolerance"])
        else:
            assert block is None


def test_notification_and_si() -> None:
    (vector,) = [v for v in VECTORS if v["id"] == "movesense-meas-imu6-52"]
    path = movesense.parse_path("/Meas/IMU6/52")
    code, ref, samples = movesense.decode_notification(
        bytes([2, 7]) + bytes.fromhex(vector["hex"]), path
    )
    assert (code, ref, samples.n_samples) == (2, 7, 4)
    si = movesense.to_si(samples, path.rate_hz)
    assert si.gyr_rads is not None and si.device_time_s is not None
    np.testing.assert_allclose(si.gyr_rads, np.array(vector["expected"]["ArrayGyro"]) * DEG_TO_RAD)
    np.testing.assert_allclose(si.device_time_s, 172.460 + np.arange(4) / 52)


def test_commands_and_errors() -> None:
    assert movesense.subscribe_command(99, "/Meas/IMU9/104") == b"\x01\x63/Meas/IMU9/104"
    assert movesense.unsubscribe_command(99) == b"\x02\x63"
    with pytest.raises(ValueError, match="path"):
        movesense.parse_path("/Meas/Temp")
    with pytest.raises(DecodeError) as caught:
        movesense.decode_payload(bytes(4 + 13), movesense.parse_path("/Meas/Acc/52"))
    assert caught.value.reason == "bad_length"

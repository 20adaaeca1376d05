"""WitMotion WT901BLE: captured `55 61` notifications and the magnetometer example of the
WT901BLECL datasheet (§6.1), decoded by the datasheet's formulas; the configuration commands."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from balancelab.devices import witmotion
from balancelab.devices.common import G_TO_MS2
from balancelab.errors import DecodeError
from tests.support import SHARED

VECTORS = json.loads((SHARED / "devices" / "vectors" / "witmotion_wt901ble.json").read_text())[
    "vectors"
]


def _vector(vector_id: str) -> dict[str, Any]:
    (found,) = [v for v in VECTORS if v["id"] == vector_id]
    return found


def test_every_vector_is_covered() -> None:
    assert len(VECTORS) == 3


def test_captured_four_frame_notification() -> None:
    vector = _vector("wit-ble-80B-4frames-captured")
    decoded = witmotion.decode_notification(bytes.fromhex(vector["hex"]))
    expected = vector["expected"]
    assert decoded.n_samples == expected["frame_count"]
    frame0 = expected["frame0"]
    assert decoded.acc_g[0, 2] == pytest.approx(
        frame0["acc_z_g"]["value"], abs=frame0["acc_z_g"]["tolerance"]
    )
    assert decoded.angle_deg[0, 2] == pytest.approx(
        frame0["angle_z_yaw_deg"]["value"], abs=frame0["angle_z_yaw_deg"]["tolerance"]
    )


def test_captured_two_frame_notification() -> None:
    vector = _vector("wit-ble-40B-2frames-captured-50Hz")
    decoded = witmotion.decode_notification(bytes.fromhex(vector["hex"]))
    assert decoded.n_samples == vector["expected"]["frame_count"]


def test_datasheet_magnetometer_register_read() -> None:
    vector = _vector("wit-datasheet-0x71-magnetometer-example")
    assert witmotion.read_register_command(0x3A) == bytes.fromhex(vector["request_hex"])
    decoded = witmotion.decode_notification(bytes.fromhex(vector["hex"]))
    assert decoded.n_samples == 0
    (read,) = decoded.registers
    expected = vector["expected"]
    assert read.start_register == int(expected["start_register"], 16)
    assert witmotion.magnetometer_mg(read) == (expected["Hx"], expected["Hy"], expected["Hz"])


def test_to_si_units() -> None:
    decoded = witmotion.decode_notification(
        bytes.fromhex(_vector("wit-ble-80B-4frames-captured")["hex"])
    )
    si = witmotion.to_si(decoded)
    assert si.acc_ms2 is not None and si.ori_rad is not None and si.gyr_rads is not None
    assert si.acc_ms2[0, 2] == pytest.approx(1.0083 * G_TO_MS2, abs=1e-3)
    assert si.ori_rad[0, 2] == pytest.approx(np.radians(70.2686), abs=1e-4)
    assert si.device_time_s is None and si.values.shape == (4, 9)
    assert (si.values[:, :3] == si.acc_ms2).all() and (si.values[:, 6:] == si.ori_rad).all()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x55\x61" + bytes(10), "too_short"),
        (b"\x55\x61" + bytes(26), "bad_length"),  # a 28-byte vibration-sensor frame
        (b"\x55\x51" + bytes(18), "unknown_frame"),
        (b"\x55\x61" + bytes(18) + b"\x00\x61" + bytes(18), "unknown_frame"),
    ],
)
def test_malformed_notifications(payload: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        witmotion.decode_notification(payload)
    assert caught.value.reason == reason


def test_commands() -> None:
    assert witmotion.unlock_command() == bytes.fromhex("ffaa6988b5")
    assert witmotion.save_command() == bytes.fromhex("ffaa000000")
    assert witmotion.set_rate_command(50) == bytes.fromhex("ffaa030800")
    assert witmotion.set_rate_command(100) == bytes.fromhex("ffaa030900")
    assert witmotion.set_rate_command(200) == bytes.fromhex("ffaa030b00")
    assert witmotion.set_rate_command(200, code_200hz=witmotion.ALTERNATE_200HZ_CODE) == (
        bytes.fromhex("ffaa030a00")
    )
    assert witmotion.configure_rate_commands(10)[1] == bytes.fromhex("ffaa030600")
    with pytest.raises(ValueError, match="rate_hz"):
        witmotion.set_rate_command(150)

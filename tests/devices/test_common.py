"""Device detection from advertisements and the shared decoded type."""

from __future__ import annotations

import numpy as np
import pytest

from balancelab.devices.common import Decoded, DeviceKind, detect_kind, is_ble_address
from balancelab.errors import BalancelabError, DecodeError


@pytest.mark.parametrize(
    ("name", "uuids", "kind"),
    [
        (None, ["C8DB0001-135F-46CE-8A83-C3EA02B7428D"], DeviceKind.DIY),
        ("Polar H10 ABCDEF12", [], DeviceKind.POLAR),
        ("Polar Sense B36F2A", [], DeviceKind.POLAR),
        (None, ["fb005c80-02e7-f387-1cad-8acd2d8df0c8"], DeviceKind.POLAR),
        ("WT901BLE68", [], DeviceKind.WITMOTION),
        (None, ["0000ffe5-0000-1000-8000-00805f9a34fb"], DeviceKind.WITMOTION),
        ("Movesense 123456789", [], DeviceKind.MOVESENSE),
        ("BalanceLab-IMU", [], DeviceKind.DIY),
        ("Headphones", ["0000ffe5-0000-1000-8000-00805f9b34fb"], None),  # SIG base: not WitMotion
        (None, [], None),
    ],
)
def test_detect_kind(name: str | None, uuids: list[str], kind: DeviceKind | None) -> None:
    assert detect_kind(name, uuids) == kind


def test_decode_error_is_a_domain_error_with_a_known_reason() -> None:
    error = DecodeError("too_short", "3 bytes")
    assert isinstance(error, BalancelabError) and error.reason == "too_short" and error.advice
    with pytest.raises(ValueError, match="unknown decode reason"):
        DecodeError("whatever", "x")


def test_decoded_values_are_the_quantities_side_by_side() -> None:
    decoded = Decoded(acc_ms2=np.ones((2, 3)), gyr_rads=np.zeros((2, 3)))
    assert decoded.n_samples == 2
    assert decoded.values.tolist() == [[1, 1, 1, 0, 0, 0]] * 2
    assert Decoded().values.shape == (0, 0)


@pytest.mark.parametrize(
    ("text", "is_address"),
    [
        ("AA:BB:CC:DD:EE:FF", True),
        ("f0:00:00:00:00:01", True),
        ("5D1C0A3E-9C1B-4F6A-8E2D-7B3C4A5D6E7F", True),  # macOS CoreBluetooth identifier
        ("5d1c0a3e-9c1b-4f6a-8e2d-7b3c4a5d6e7f", True),
        ("AA:BB:CC:DD:EE", False),  # five octets
        ("AA:BB:CC:DD:EE:FG", False),  # not hex
        ("AAA:BB:CC:DD:EE:F", False),
        ("AA-BB-CC-DD-EE-FF", False),
        ("balancelab-leftfoot-board-2024-00001", False),  # 36 characters, four dashes: a name
        ("5D1C0A3E9C1B4F6A8E2D7B3C4A5D6E7F", False),  # a UUID, but not as an OS reports one
        ("{5D1C0A3E-9C1B-4F6A-8E2D-7B3C4A5D6E7F}", False),
        ("5D1C0A3E-9C1B-4F6A-8E2D-7B3C4A5D6E7", False),
        ("Polar H10 A1B2C3D4", False),
        ("", False),
    ],
)
def test_is_ble_address(text: str, is_address: bool) -> None:
    assert is_ble_address(text) is is_address

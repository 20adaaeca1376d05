"""balancelab IMU profile v1: layout, round trips, scale factors, malformed packets."""

from __future__ import annotations

import numpy as np
import pytest

from balancelab.devices import common, diy
from balancelab.devices.common import DEG_TO_RAD, G_TO_MS2
from balancelab.errors import DecodeError

LSM6DS3_CONFIG = diy.DiyConfig(
    odr_dhz=1040,
    acc_range_g=8,
    samples_per_packet=5,
    gyro_range_dps=2000,
    acc_lsb_g=0.000244,
    gyro_lsb_dps=0.070,
)


def test_layout_of_a_one_sample_packet_fits_the_default_mtu() -> None:
    payload = diy.encode_data(0x1234, 0x89ABCDEF, [[1, -1, 2, -2, 32767, -32768]])
    assert payload.hex() == "11013412efcdab89" + "0100ffff0200feffff7f0080"
    assert len(payload) == 20 == 23 - 3
    assert diy.max_samples_per_packet(23) == 1
    assert diy.max_samples_per_packet(247) == 19
    assert diy.max_samples_per_packet(247, gyro=False) == 39


def test_data_round_trip_with_flags_and_wrapping_fields() -> None:
    raw = np.arange(30).reshape(5, 6) - 15
    flags = diy.DiyFlag.RESTART | diy.DiyFlag.OVERRUN
    packet = diy.decode_data(diy.encode_data(65536 + 7, 2**32 + 99, raw, flags=flags))
    assert packet.first_index == 7 and packet.t_first_us == 99
    assert packet.flags == flags | diy.DiyFlag.GYRO
    assert packet.raw.tolist() == raw.tolist() and packet.n_samples == 5


def test_accelerometer_only_packets() -> None:
    packet = diy.decode_data(diy.encode_data(1, 2, [[1, 2, 3], [4, 5, 6]]))
    assert not packet.has_gyro and packet.raw.shape == (2, 3)
    si = diy.to_si(packet, LSM6DS3_CONFIG)
    assert si.gyr_rads is None and si.values.shape == (2, 3)


def test_config_round_trip_keeps_the_exact_float32_scales() -> None:
    payload = diy.encode_config(LSM6DS3_CONFIG)
    assert len(payload) == 16
    config = diy.decode_config(payload)
    assert config.odr_hz == 104.0
    assert config.acc_lsb_g == np.float32(0.000244)
    assert config.gyro_lsb_dps == np.float32(0.070)
    host_write = diy.encode_config(diy.DiyConfig(odr_dhz=2080, samples_per_packet=5))
    assert diy.decode_config(host_write, require_scales=False).odr_dhz == 2080
    with pytest.raises(DecodeError) as caught:
        diy.decode_config(host_write)
    assert caught.value.reason == "impossible_value"


def test_to_si_uses_the_config_scales_and_nominal_spacing() -> None:
    config = diy.decode_config(diy.encode_config(LSM6DS3_CONFIG))
    packet = diy.decode_data(diy.encode_data(3, 1_000_000, [[4096, 0, 0, 1000, 0, 0]] * 3))
    si = diy.to_si(packet, config)
    assert si.acc_ms2 is not None and si.gyr_rads is not None and si.device_time_s is not None
    assert si.acc_ms2[0, 0] == pytest.approx(4096 * 0.000244 * G_TO_MS2, rel=1e-6)
    assert si.gyr_rads[0, 0] == pytest.approx(1000 * 0.070 * DEG_TO_RAD, rel=1e-6)
    np.testing.assert_allclose(si.device_time_s, 1.0 + np.arange(3) / 104.0)
    assert si.first_index == 3 and si.index_bits == 16
    later = diy.to_si(packet, config, t_first_s=5000.0)
    assert later.device_time_s is not None and later.device_time_s[0] == 5000.0


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x11\x01\x00", "too_short"),
        (bytes.fromhex("21010000000000000100ffff0200feffff7f0080"), "bad_version"),
        (bytes.fromhex("1100000000000000"), "impossible_value"),
        (bytes.fromhex("11020000000000000100ffff0200feffff7f0080"), "bad_length"),
        (bytes.fromhex("10010000000000000100ffff0200feffff7f0080"), "bad_length"),
    ],
)
def test_malformed_data(payload: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        diy.decode_data(payload)
    assert caught.value.reason == reason


def test_small_characteristics() -> None:
    assert diy.decode_clock(diy.encode_clock(2**40 + 5)) == 2**40 + 5
    assert diy.decode_battery(b"\x57") == 87
    with pytest.raises(DecodeError, match="impossible_value"):
        diy.decode_battery(b"\xc8")
    caps = diy.DiyCapabilities(
        1,
        "LSM6DS3TR-C",
        (125, 260, 520, 1040, 2080),
        (2, 4, 8, 16),
        (0, 245, 500, 1000, 2000),
        "x-fwd,y-left,z-up",
        682,
    )
    assert diy.decode_capabilities(diy.encode_capabilities(caps)) == caps
    with pytest.raises(DecodeError) as caught:
        diy.decode_capabilities(b'{"profile": 1}')
    assert caught.value.reason == "missing_key"


def test_uuids() -> None:
    assert diy.SERVICE_UUID == "c8db0001-135f-46ce-8a83-c3ea02b7428d"
    assert diy.DATA_UUID == "c8db0002-135f-46ce-8a83-c3ea02b7428d"
    assert diy.CLOCK_UUID.startswith("c8db0005")
    assert common.BATTERY_LEVEL_UUID == "00002a19-0000-1000-8000-00805f9b34fb"

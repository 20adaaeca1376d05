"""Polar PMD: every frame, setting and timestamp example asserted by the Polar BLE SDK's own
Android and iOS tests (github.com/polarofficial/polar-ble-sdk, © Polar Electro Oy)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from balancelab.devices import polar, polar_control
from balancelab.devices.common import MG_TO_MS2
from balancelab.devices.polar_control import MeasurementType, SettingType
from balancelab.errors import DecodeError
from tests.support import SHARED

VECTORS = json.loads((SHARED / "devices" / "vectors" / "polar_pmd.json").read_text())["vectors"]


def _vectors(*kinds: str) -> list[Any]:
    found = [v for v in VECTORS if v["kind"] in kinds]
    return [pytest.param(v, id=v["id"]) for v in found]


def test_every_vector_is_covered() -> None:
    kinds = {
        "pmd_notification",
        "pmd_delta_content",
        "pmd_delta_reference_only",
        "pmd_header_only",
        "pmd_settings",
        "pmd_timestamps",
    }
    assert len(VECTORS) == 23
    assert {v["kind"] for v in VECTORS} <= kinds


def _sample_rows(expected: dict[str, Any], channels: tuple[str, ...]) -> dict[int, list[float]]:
    return {int(i): [row[c] for c in channels] for i, row in expected["samples"].items()}


@pytest.mark.parametrize("vector", _vectors("pmd_notification"))
def test_notification_vectors(vector: dict[str, Any]) -> None:
    params, expected = vector["params"], vector["expected"]
    frame = polar.split_frame(bytes.fromhex(vector["hex"]))
    assert frame.measurement == MeasurementType[vector["measurement"]]
    assert frame.compressed is vector["compressed"]
    assert frame.frame_type == vector["frame_type"]
    assert frame.timestamp_ns == expected["frame_timestamp_ns"]
    samples = polar.decode_frame(
        frame,
        factor=params["factor"],
        previous_timestamp_ns=params["previous_timestamp_ns"],
        sample_rate_hz=params["sample_rate_hz"],
    )
    assert samples.n_samples == expected["sample_count"]
    tolerance = expected.get("tolerance", 0.0)
    for index, row in _sample_rows(expected, ("x", "y", "z")).items():
        np.testing.assert_allclose(samples.values[index], row, rtol=0, atol=tolerance)
    if "calibration_status" in expected["samples"]["0"]:
        assert samples.status is not None
        statuses = [expected["samples"][str(i)]["calibration_status"] for i in range(2)]
        assert samples.status.tolist() == statuses
    _check_timestamps(samples.timestamps_ns, expected)
    _check_extras(samples, expected)


def _check_timestamps(times: list[int], expected: dict[str, Any]) -> None:
    assert times[-1] == expected["frame_timestamp_ns"]
    if "last_sample_timestamp_ns" in expected:
        assert times[-1] == expected["last_sample_timestamp_ns"]
    if "first_sample_timestamp_ns" in expected:
        assert times[0] == expected["first_sample_timestamp_ns"]
    stamps = expected.get("sample_timestamps_ns")
    if isinstance(stamps, list):
        assert times == stamps
    elif isinstance(stamps, dict):
        for index, value in stamps.items():
            assert times[int(index)] == value


def _check_extras(samples: polar.PmdSamples, expected: dict[str, Any]) -> None:
    if "all_samples_abs_max_mG" in expected:
        assert np.abs(samples.values).max() <= expected["all_samples_abs_max_mG"]
    if "raw_reference_sample" in expected:
        assert samples.raw[0].tolist() == expected["raw_reference_sample"]
        assert samples.raw[1].tolist() == expected["raw_sample_1"]
    if "raw_mG" in expected:
        assert samples.raw[:, :3].tolist() == expected["raw_mG"]
    if "sample_bit_patterns" in expected:
        patterns = [[f"0x{v:08X}" for v in row] for row in samples.raw.tolist()]
        assert patterns == expected["sample_bit_patterns"]
    block = expected.get("delta_block_0")
    if block is not None and "deltas" in block:
        assert (samples.raw[1] - samples.raw[0]).tolist() == block["deltas"]


def test_acc_compressed_type0_legacy_factor() -> None:
    (vector,) = [v for v in VECTORS if v["id"] == "polar-acc-compressed-type0-legacy-factor"]
    raw = polar.decode_delta(bytes.fromhex(vector["hex"]), 3, 16)
    expected = vector["expected"]
    assert raw.shape == (expected["sample_count"], 3)
    for index in ("0", "1"):
        mg = [int(0.244 * v) for v in raw[int(index)]]
        assert mg == [expected["samples_mG"][index][c] for c in "xyz"]
        g = raw[int(index)] * 0.000244
        tolerance = 0.001 if index == "0" else 1e-9
        np.testing.assert_allclose(
            g, [expected["samples_G"][index][c] for c in "xyz"], atol=tolerance
        )
    assert np.abs(raw * 0.244).max() <= expected["all_samples_abs_max_mG"]


@pytest.mark.parametrize("vector", _vectors("pmd_delta_content"))
def test_delta_content_vectors(vector: dict[str, Any]) -> None:
    params, expected = vector["params"], vector["expected"]
    is_float = "float" in params["encoding"].lower()
    raw = polar.decode_delta(
        bytes.fromhex(vector["hex"]),
        params["channels"],
        params["resolution_bits"],
        float_bits=is_float,
    )
    assert raw.shape[0] == expected["sample_count"]
    if isinstance(expected.get("samples"), list):
        assert raw.tolist() == expected["samples"]
    elif isinstance(expected.get("samples"), dict):
        for index, row in expected["samples"].items():
            assert raw[int(index)].tolist() == row
    if "sample_bit_patterns" in expected:
        for index, row in expected["sample_bit_patterns"].items():
            assert [f"0x{v:08X}" for v in raw[int(index)]] == row
    if "samples_as_float32" in expected:
        floats = raw.astype(np.uint32).view(np.float32)
        for index, row in expected["samples_as_float32"].items():
            assert floats[int(index)].tolist() == row
    if "blocks" in expected:
        assert _block_layout(bytes.fromhex(vector["hex"]), params) == expected["blocks"]


def _block_layout(content: bytes, params: dict[str, Any]) -> list[dict[str, int]]:
    offset = params["channels"] * math.ceil(params["resolution_bits"] / 8)
    blocks = []
    while offset < len(content):
        width, count = content[offset], content[offset + 1]
        blocks.append({"bit_width": width, "sample_count": count})
        offset += 2 + math.ceil(width * count * params["channels"] / 8)
    return blocks


@pytest.mark.parametrize("vector", _vectors("pmd_delta_reference_only"))
def test_reference_sample_vectors(vector: dict[str, Any]) -> None:
    params, expected = vector["params"], vector["expected"]
    is_float = "float" in params["encoding"].lower()
    reference = polar.decode_reference(
        bytes.fromhex(vector["hex"]),
        params["channels"],
        params["resolution_bits"],
        float_bits=is_float,
    )
    if "reference_sample" in expected:
        assert reference == expected["reference_sample"]
    else:
        assert [f"0x{v:08X}" for v in reference] == expected["reference_sample_bit_patterns"]


@pytest.mark.parametrize("vector", _vectors("pmd_header_only"))
def test_header_vectors(vector: dict[str, Any]) -> None:
    expected = vector["expected"]
    frame = polar.split_frame(bytes.fromhex(vector["hex"]))
    assert frame.measurement == expected["measurement_type"]
    assert frame.timestamp_ns == expected["timestamp_ns"]
    assert frame.compressed is expected["compressed"]
    assert frame.frame_type == expected["frame_type"]
    assert frame.content.hex() == expected["content_hex"]


@pytest.mark.parametrize("vector", _vectors("pmd_settings"))
def test_settings_vectors(vector: dict[str, Any]) -> None:
    settings = polar_control.parse_settings(bytes.fromhex(vector["hex"]))
    for name, value in vector["expected"].items():
        assert list(getattr(settings, name)) == (value or [])


def test_timestamp_rule_cases() -> None:
    (vector,) = [v for v in VECTORS if v["kind"] == "pmd_timestamps"]
    for case in vector["cases"]:
        times = polar.sample_timestamps_ns(
            case["previous_timestamp_ns"],
            case["frame_timestamp_ns"],
            case["samples"],
            case["sample_rate_hz"],
        )
        assert times == case["expected_ns"]
    for case in vector["error_cases"]:
        with pytest.raises(DecodeError) as caught:
            polar.sample_timestamps_ns(
                case["previous_timestamp_ns"],
                case["frame_timestamp_ns"],
                case["samples"],
                case["sample_rate_hz"],
            )
        assert caught.value.reason == "bad_timestamp"


def test_acc_raw_first_sample_time_uses_the_rate() -> None:
    (vector,) = [v for v in VECTORS if v["id"] == "polar-acc-raw-type1-16bit"]
    samples = polar.decode_frame(polar.split_frame(bytes.fromhex(vector["hex"])), sample_rate_hz=52)
    assert samples.timestamps_ns[0] == 1326923077  # derived in the vector's notes


def test_start_command_matches_the_h10_example() -> None:
    settings = {SettingType.RANGE: 8, SettingType.SAMPLE_RATE: 200, SettingType.RESOLUTION: 16}
    command = bytes([2, MeasurementType.ACC]) + polar_control.encode_settings(settings)
    assert command == bytes.fromhex("0202020108000001c80001011000")
    standard = polar_control.start_command(
        MeasurementType.ACC, sample_rate_hz=200, resolution_bits=16, range_=8
    )
    assert standard == bytes.fromhex("02020001c80001011000020108 00".replace(" ", ""))
    assert polar_control.parse_settings(standard[2:]) == polar_control.parse_settings(command[2:])


def test_simple_commands() -> None:
    assert polar_control.get_settings_command(MeasurementType.GYRO) == b"\x01\x05"
    assert polar_control.stop_command(MeasurementType.ACC) == b"\x03\x02"
    assert polar_control.start_command(MeasurementType.SDK_MODE) == b"\x02\x09"


def test_control_response_with_settings() -> None:
    (vector,) = [v for v in VECTORS if v["id"] == "polar-settings-gyro-like"]
    response = polar_control.parse_control_response(
        bytes.fromhex("f0010500" + "00" + vector["hex"])
    )
    assert response.ok and response.status_text == "success"
    assert response.settings is not None
    assert response.settings.range == (245, 500, 1000, 2000)


def test_control_response_error_and_start_factor() -> None:
    error = polar_control.parse_control_response(bytes.fromhex("f0020208"))
    assert not error.ok and error.status_text == "invalid sample rate" and error.settings is None
    factor = polar_control.encode_settings({SettingType.FACTOR: 0.5})
    started = polar_control.parse_control_response(bytes.fromhex("f0020200" + "00") + factor)
    assert started.settings is not None and started.settings.factor == (0.5,)


def test_features_bitmask() -> None:
    features = polar_control.parse_features(bytes.fromhex("0f0500"))  # bits 0 and 2: ECG, ACC
    assert features == {MeasurementType.ECG, MeasurementType.ACC}


def test_pmd_stream_keeps_the_previous_timestamp_and_converts_to_si() -> None:
    (vector,) = [v for v in VECTORS if v["id"] == "polar-acc-raw-type1-16bit"]
    payload = bytes.fromhex(vector["hex"])
    stream = polar.PmdStream(MeasurementType.ACC, sample_rate_hz=52)
    first = stream.decode(payload)
    later = bytearray(payload)
    later[1:9] = (2_000_000_000 + 36 * 10**9 // 52).to_bytes(8, "little")
    second = stream.decode(bytes(later))
    assert second.timestamps_ns[0] > first.timestamps_ns[-1]
    assert np.all(np.diff(second.timestamps_ns) > 0)
    si = polar.to_si(first)
    assert si.acc_ms2 is not None and si.device_time_s is not None
    np.testing.assert_allclose(si.acc_ms2[0], np.array([-9, -1, 999]) * MG_TO_MS2)
    assert si.device_time_s[-1] == pytest.approx(2.0)
    with pytest.raises(DecodeError) as caught:
        stream.decode(bytes([MeasurementType.GYRO]) + payload[1:])
    assert caught.value.reason == "unknown_frame"


def test_gyro_to_si_is_rad_per_s() -> None:
    (vector,) = [v for v in VECTORS if v["id"] == "polar-gyro-compressed-type1-float"]
    samples = polar.decode_frame(
        polar.split_frame(bytes.fromhex(vector["hex"])), previous_timestamp_ns=100
    )
    si = polar.to_si(samples)
    assert si.gyr_rads is not None
    np.testing.assert_allclose(si.gyr_rads[0], np.radians([1.0, 10.0, 20.0]))

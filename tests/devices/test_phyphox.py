"""phyphox remote access: the request and response examples of phyphox's remote-interface
documentation (phyphox.org, phyphox-docs `remote-interface`), and more."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from balancelab.devices import phyphox
from balancelab.errors import DecodeError
from tests.support import SHARED

VECTORS = json.loads((SHARED / "devices" / "vectors" / "phyphox_remote.json").read_text())[
    "vectors"
]


def _vector(vector_id: str) -> dict[str, Any]:
    (found,) = [v for v in VECTORS if v["id"] == vector_id]
    return found


def _values(raw: list[Any]) -> list[float]:
    return [math.nan if v == "NaN" else float(v) for v in raw]


@pytest.mark.parametrize(
    "vector_id", ["phyphox-get-buffer-and-status-doc-example", "phyphox-get-null-is-nan"]
)
def test_get_vectors(vector_id: str) -> None:
    vector = _vector(vector_id)
    response = phyphox.parse_get(vector["json"])
    for name, expected in vector["expected"]["buffers"].items():
        buffer = response.buffers[name]
        assert buffer.size == expected["size"] and buffer.update_mode == expected["updateMode"]
        np.testing.assert_allclose(buffer.values, _values(expected["values"]), equal_nan=True)
    status = vector["expected"].get("status")
    if status is not None:
        assert response.status == phyphox.PhyphoxStatus(
            status["session"], status["measuring"], status["timedRun"], status["countDown_ms"]
        )


def test_control_vector() -> None:
    vector = _vector("phyphox-control-result")
    assert phyphox.parse_control(vector["json_success"]) is True
    assert phyphox.parse_control(vector["json_failure"]) is False
    built = [
        phyphox.control_query("start"),
        phyphox.control_query("stop"),
        phyphox.control_query("clear"),
        phyphox.control_query("set", buffer="abc", value=42),
    ]
    assert built == vector["requests"]


def test_query_encoding_vector() -> None:
    for case in _vector("phyphox-get-query-encoding")["cases"]:
        pairs = [(name, spec) for name, spec in case["params"]]
        assert phyphox.build_get_query(pairs) == case["expected_encoded"]


def test_set_body_vector_is_valid_json_of_the_documented_shape() -> None:
    body = json.loads(_vector("phyphox-set-bulk-request")["json"])
    assert body["mode"] == "replace" and set(body["buffers"]) == {"abc", "t"}


def test_schema_vector_keys_parse() -> None:
    schema = _vector("phyphox-config-meta-time-schema")
    config = {key: "x" for key in schema["config_required_keys"]}
    config.update(
        crc32="1a2b3c",
        buffers=[{"name": "acc_time", "size": 0}, {"name": "accX", "size": 0}],
        inputs=[{"source": "accelerometer", "outputs": [{"x": "accX"}]}],
        export=[{"set": "Raw Data", "sources": [{"label": "Time (s)", "buffer": "acc_time"}]}],
    )
    parsed = phyphox.parse_config(json.dumps(config))
    assert parsed.has_buffers(["acc_time", "accX"]) and parsed.input_sources == ("accelerometer",)
    assert parsed.exports[0].sources == (("Time (s)", "acc_time"),)
    meta = phyphox.parse_meta(json.dumps(dict.fromkeys(schema["meta_common_keys"], None)))
    assert meta == {}
    events = phyphox.parse_time(
        '[{"event": "START", "experimentTime": 0.0, "systemTime": 1700000000.5},'
        ' {"event": "PAUSE", "experimentTime": 10.0, "systemTime": 1700000010.5},'
        ' {"event": "START", "experimentTime": 10.0, "systemTime": 1700000100.0}]'
    )
    assert phyphox.experiment_to_system_s(5.0, events) == pytest.approx(1700000005.5)
    assert phyphox.experiment_to_system_s(12.0, events) == pytest.approx(1700000102.0)


def test_incremental_queries() -> None:
    assert phyphox.incremental_query("acc_time", phyphox.ACC_BUFFERS, None) == (
        "/get?acc_time=full&accX=full&accY=full&accZ=full"
    )
    assert phyphox.incremental_query("acc_time", ["accX"], 1.25) == (
        "/get?acc_time=1.25&accX=1.25%7Cacc_time"
    )


def test_to_si_cuts_to_the_shortest_buffer() -> None:
    text = json.dumps(
        {
            "buffer": {
                "acc_time": {"size": 0, "updateMode": "partial", "buffer": [0.01, 0.02, 0.03]},
                "accX": {"size": 0, "updateMode": "partial", "buffer": [1, 2, 3]},
                "accY": {"size": 0, "updateMode": "partial", "buffer": [4, 5]},
                "accZ": {"size": 0, "updateMode": "partial", "buffer": [9.8, 9.7, None]},
            }
        }
    )
    decoded = phyphox.to_si(phyphox.parse_get(text))
    assert decoded.device_time_s is not None and decoded.acc_ms2 is not None
    assert decoded.device_time_s.tolist() == [0.01, 0.02]
    assert decoded.acc_ms2.tolist() == [[1, 4, 9.8], [2, 5, 9.7]]
    with pytest.raises(DecodeError) as caught:
        phyphox.to_si(
            phyphox.parse_get(text), acc=None, gyr=(phyphox.GYR_TIME, phyphox.GYR_BUFFERS)
        )
    assert caught.value.reason == "missing_key"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ("{}", "missing_key"),
        ('{"buffer": {"a": {"size": 1, "updateMode": "x", "buffer": ["q"]}}}', "bad_json"),
        ('{"buffer": {"a": {"size": 1, "updateMode": "x"}}}', "missing_key"),
        ('{"buffer": {}, "status": {"session": "s"}}', "missing_key"),
    ],
)
def test_malformed_answers(text: str, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        phyphox.parse_get(text)
    assert caught.value.reason == reason


def _get_answer(time_literal: str, count_down: str = "0") -> str:
    """A `/get` answer whose acc_time holds `time_literal` (as written, not as Python prints it)."""
    return (
        '{"buffer": {"acc_time": {"size": 0, "updateMode": "full", "buffer": [' + time_literal
        + ']}}, "status": {"session": "s", "measuring": true, "timedRun": false, "countDown": '
        + count_down + "}}"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "what"),
    [
        (_get_answer("1" * 400), "400-digit integer"),
        (_get_answer("1" * 400 + ".5"), "400-digit decimal"),
        (_get_answer("0.5", count_down="9" * 400), "400-digit countDown"),
        (_get_answer("1" * 5000), "beyond Python's int digit limit"),
        (_get_answer("1e999"), "overflows to infinity"),
        (_get_answer("Infinity"), "not JSON, but Python reads it"),
        (_get_answer("NaN"), "not JSON, but Python reads it"),
    ],
)
def test_numbers_out_of_bounds_are_refused_not_crashed_on(text: str, what: str) -> None:
    with pytest.raises(DecodeError) as caught:
        phyphox.parse_get(text)
    assert caught.value.reason == "impossible_value", what


def test_numbers_a_phone_writes_are_read() -> None:
    longest_double = "-2.2250738585072014e-308"  # 24 characters: as long as a double gets
    response = phyphox.parse_get(_get_answer(f"{longest_double}, 1E2, 12345678901234567890"))
    assert response.buffers["acc_time"].values.tolist() == [-2.2250738585072014e-308, 100.0,
                                                            12345678901234567890.0]  # fmt: skip


def test_time_events_with_absurd_numbers_are_refused() -> None:
    text = '[{"event": "START", "experimentTime": 0, "systemTime": ' + "9" * 400 + "}]"
    with pytest.raises(DecodeError) as caught:
        phyphox.parse_time(text)
    assert caught.value.reason == "impossible_value"


def test_a_non_json_answer_says_how_it_begins() -> None:
    with pytest.raises(DecodeError, match=r"begins '<!DOCTYPE html><html>"):
        phyphox.parse_get(b"<!DOCTYPE html><html>\n<head><title>Router</title></head></html>")


@pytest.mark.parametrize(
    ("spacing_s", "plausible"),
    [(1e-9, False), (1e-6, False), (1 / 1200, False), (1 / 500, True), (0.01, True),
     (0.9, True), (2.0, False)],
)  # fmt: skip
def test_rates_outside_what_a_phone_sensor_delivers_are_refused(
    spacing_s: float, plausible: bool
) -> None:
    rng = np.random.default_rng(1)
    times_s = np.cumsum(spacing_s * rng.uniform(0.8, 1.2, 200))  # irregular, as phones are
    if plausible:
        assert phyphox.nominal_rate_hz("acc_time", times_s) == pytest.approx(1 / spacing_s, 0.05)
    else:
        with pytest.raises(DecodeError, match="acc_time") as caught:
            phyphox.nominal_rate_hz("acc_time", times_s)
        assert caught.value.reason == "bad_timestamp"


def test_a_batch_denser_than_the_fastest_phone_is_refused() -> None:
    jittery = np.array([1.0, 1.0001, 1.0002, 1.0102])  # bursts of close samples still pass
    phyphox.check_batch_rate("acc_time", jittery, since_s=0.99)
    phyphox.check_batch_rate("acc_time", np.array([5.0]), since_s=None)
    dense = 1.0 + np.arange(5000) * 1e-9
    with pytest.raises(DecodeError, match="acc_time") as caught:
        phyphox.check_batch_rate("acc_time", dense, since_s=0.99)
    assert caught.value.reason == "bad_timestamp"

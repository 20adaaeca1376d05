"""Drivers set up without a connection (`use_config`, `use_streams`): what the benchmarks and
offline decoding rely on, through public methods only."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from balancelab.devices import diy
from balancelab.devices.common import G_TO_MS2, MG_TO_MS2
from balancelab.devices.polar_control import MeasurementType
from balancelab.errors import InvalidArgumentError
from balancelab.sensors.base import SourceStats
from balancelab.sensors.ble.drivers import DiyDriver, PolarDriver
from tests.support import REPO_ROOT
from tests.support.ble.polar_twin import encode_delta, frame

ACC, GYRO = MeasurementType.ACC, MeasurementType.GYRO


def test_diy_driver_decodes_with_a_config_it_is_given() -> None:
    driver = DiyDriver("diyboard", "board", 200.0)
    config = diy.DiyConfig(2000, 8, 5, 2000, 0.244e-3, 70e-3)
    spec = driver.use_config(config)
    assert spec.tracksys == "diyboard" and spec.nominal_fs_hz == 200.0 and len(spec.channels) == 6
    raw = np.arange(30).reshape(5, 6)
    batch = driver.decode(diy.encode_data(0, 0, raw), 0.5, SourceStats())
    assert batch is not None and batch.values.shape == (5, 6)
    np.testing.assert_allclose(batch.values[:, :3], raw[:, :3] * 0.244e-3 * G_TO_MS2, rtol=1e-6)


def test_polar_driver_merges_acc_and_gyro_frames_it_is_set_up_for() -> None:
    driver = PolarDriver("polarchest", "sternum", 52.0)
    spec = driver.use_streams({ACC: 52, GYRO: 52})
    assert spec.tracksys == "polarchest" and len(spec.channels) == 6 and spec.nominal_fs_hz == 52
    counts = np.cumsum(np.ones((12, 3), dtype=np.int64), axis=0)
    t_ns = 10**12
    stats = SourceStats()
    acc = driver.decode(frame(ACC, t_ns, 0x81, encode_delta(counts)), 1.0, stats)
    merged = driver.decode(frame(GYRO, t_ns, 0x80, encode_delta(counts)), 1.0, stats)
    assert acc is None  # waits for its GYRO partners
    assert merged is not None and merged.values.shape == (12, 6)
    np.testing.assert_allclose(merged.values[:, :3], counts * MG_TO_MS2)
    assert not np.isnan(merged.values).any()


def test_polar_driver_needs_acc() -> None:
    with pytest.raises(InvalidArgumentError, match="ACC"):
        PolarDriver("polarchest", "sternum", 52.0).use_streams({GYRO: 52})


def test_the_ble_benchmark_uses_no_private_names_and_sets_no_driver_internals() -> None:
    tree = ast.parse(Path(REPO_ROOT / "benchmarks" / "bench_ble.py").read_text())
    private = [
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("balancelab")
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert private == []
    driver_writes = [
        ast.unparse(target)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        for part in ast.walk(target)
        if isinstance(part, ast.Attribute | ast.Subscript) and "driver" in ast.unparse(part)
    ]
    assert driver_writes == []

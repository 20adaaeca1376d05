"""`balancelab analyze --json` has one versioned shape, for a session and for a dataset alike,
and the JSON Schema shipped in the package accepts exactly that shape (science/METRICS.md)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import balancelab
from balancelab.engine.analyze import analyze_path
from balancelab.model import (
    ANALYSIS_SCHEMA,
    ANALYSIS_SCHEMA_FILE,
    TRACKED_POINTS,
    Outcome,
    QualityCode,
    Side,
    Surface,
    TrialType,
    Vision,
)
from tests.support import REPO_ROOT

RECORDINGS = REPO_ROOT / "recordings"
DEMO_SESSION = RECORDINGS / "sub-demo01" / "ses-20260907T073000"


def schema() -> dict[str, Any]:
    text = files("balancelab.model").joinpath(ANALYSIS_SCHEMA_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(loaded)
    return loaded


def analyze_json(path: Path) -> dict[str, Any]:
    """What a person gets from `balancelab analyze PATH --json`, in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-m", "balancelab", "analyze", str(path), "--json", "--jobs", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


@pytest.fixture(scope="module")
def dataset_document() -> dict[str, Any]:
    return analyze_json(RECORDINGS)


def test_a_dataset_document_is_valid_against_the_shipped_schema(
    dataset_document: dict[str, Any],
) -> None:
    jsonschema.validate(dataset_document, schema(), cls=jsonschema.Draft202012Validator)
    assert dataset_document["schema"] == ANALYSIS_SCHEMA == "balancelab.analysis/1"
    assert dataset_document["software_version"] == balancelab.__version__
    assert len(dataset_document["sessions"]) == 10 and dataset_document["failed"] == []
    trials = [t for s in dataset_document["sessions"] for t in s["trials"]]
    assert {t["trial_type"] for t in trials} >= {"single_leg_hold", "step_down"}
    assert any(t["metrics"].get("tts", {}).get("interval_90") for t in trials)


def test_one_session_has_the_same_shape_as_a_dataset(dataset_document: dict[str, Any]) -> None:
    document = analyze_json(DEMO_SESSION)
    jsonschema.validate(document, schema(), cls=jsonschema.Draft202012Validator)
    (session,) = document["sessions"]
    assert document["failed"] == [] and set(document) == set(dataset_document)
    (same,) = [s for s in dataset_document["sessions"] if s["source"] == session["source"]]
    assert session == same  # the same numbers, whether asked for alone or with the dataset


def test_the_printed_document_is_the_one_analyze_path_gives(
    dataset_document: dict[str, Any],
) -> None:
    assert json.loads(json.dumps(analyze_path(RECORDINGS).to_json_dict())) == dataset_document


def test_the_schema_refuses_what_the_document_must_not_hold(
    dataset_document: dict[str, Any],
) -> None:
    """Each change breaks the contract the schema states; an accepting schema would be no test."""
    validator = jsonschema.Draft202012Validator(schema())
    trial = ("sessions", 0, "trials", 0)
    breaks: list[tuple[tuple[Any, ...], str, Any]] = [
        ((), "schema", "balancelab.analysis/2"),
        ((), "software_version", None),
        (trial, "side", "middle"),
        (trial, "valid", "yes"),
        ((*trial, "metrics", "sway_area_95"), "value", None),  # no value without a flag
        ((*trial, "metrics", "sway_area_95"), "value", "70"),
        ((*trial, "metrics", "sway_area_95"), "extra", 1),
        (("sessions", 0), "trials", None),
    ]
    for where, key, value in breaks:
        broken = copy.deepcopy(dataset_document)
        node = broken
        for step in where:
            node = node[step]
        node[key] = value
        assert not validator.is_valid(broken), (where, key, value)
    for required in ("schema", "software_version", "sessions", "failed"):
        broken = copy.deepcopy(dataset_document)
        del broken[required]
        assert not validator.is_valid(broken), required


def test_the_schema_names_every_code_and_label_the_model_has() -> None:
    defs = schema()["$defs"]
    trial = defs["trial"]["properties"]
    for key, enum in (
        ("trial_type", TrialType),
        ("side", Side),
        ("surface", Surface),
        ("vision", Vision),
        ("outcome", Outcome),
    ):
        assert trial[key]["enum"] == [member.value for member in enum], key
    assert trial["tracked_point"]["enum"] == list(TRACKED_POINTS)
    assert defs["flag"]["properties"]["code"]["enum"] == [code.value for code in QualityCode]

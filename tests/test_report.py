"""The text report of `balancelab analyze`: 80 columns, coach units, asymmetry said in words.

Each check compares the printed text with the `--json` document of the same analysis, so the
text is held to the numbers of science/METRICS.md rather than to itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from balancelab.cli import main
from balancelab.dsp.symmetry import compute_asymmetry
from balancelab.engine.jobs import simulate_to_dataset
from balancelab.engine.report import LABELS, describe_asymmetry, metric_text
from balancelab.model import Metric
from tests.support import REPO_ROOT, SHARED_DATA

RECORDINGS = REPO_ROOT / "recordings"
BDS_FILE = SHARED_DATA / "bds" / "BDS00001.txt"
RECOMMENDED = {"single_leg_hold": 3, "double_leg_hold": 3, "step_down": 5, "hop_stabilize": 5}
"""Valid trials per side recommended by science/METRICS.md (written out, not imported)."""
HIGHER_IS_WORSE = {"sway_area_95", "mean_velocity", "stability_index", "tts"}
HIGHER_IS_BETTER = {"time_in_zone"}
WORDS = {
    "single_leg_hold": "single-leg hold",
    "double_leg_hold": "double-leg hold",
    "step_down": "step-down",
    "hop_stabilize": "hop-stabilize",
    "wobble_board": "wobble board",
}
SIDE_LINE = re.compile(
    r"^ {4}(?:(?P<label>\S.*?)\s{2,}|\s*)(?P<side>left|right|both)\s{2,}(?P<rest>.*)$"
)
SENTENCE = re.compile(
    r"^(?P<worse>left|right) (?P<size>[\d.]+) % worse than (?P<better>left|right)"
    r"(?:, (?P<verdict>beyond|within) the test's noise \(MDC (?P<mdc>[\d.]+) %\)$|; )"
)
NOTE = re.compile(r"\((?:only (?P<few>\d+) trials?, (?P<rec>\d+) recommended|(?P<n>\d+) trials?)")


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 0
    out, _ = capsys.readouterr()
    return out


@dataclass
class Analysed:
    """Text and JSON of one `analyze` run."""

    text: str
    document: dict[str, Any]
    sessions: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        found = self.document.get("sessions", [self.document])
        assert isinstance(found, list)
        self.sessions = found


def analyse(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> Analysed:
    text = run(["analyze", str(path), *extra], capsys)
    document = json.loads(run(["analyze", str(path), "--json", *extra], capsys))
    return Analysed(text, document)


@pytest.fixture(scope="module")
def wobble_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated wobble-board session: board and lower-back sensors, 3 holds per side."""
    root = tmp_path_factory.mktemp("sim")
    start = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    simulate_to_dataset(root, "wobble_board", seed=3, start_utc=start)
    return root


@pytest.fixture
def examples(capsys: pytest.CaptureFixture[str]) -> Analysed:
    return analyse(RECORDINGS, capsys)


@pytest.fixture
def wobble(wobble_dataset: Path, capsys: pytest.CaptureFixture[str]) -> Analysed:
    return analyse(wobble_dataset, capsys)


# ---------------------------------------------------------------- parsing the text


def session_blocks(text: str) -> dict[str, list[str]]:
    """The lines of each session, keyed 'athlete/session' from its 'sub-… ses-…' head line."""
    blocks: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        head = re.match(r"^sub-(\S+)\s+ses-(\S+)\s", line)
        if head:
            current = blocks.setdefault(f"{head.group(1)}/{head.group(2)}", [])
        current.append(line)
    return blocks


@dataclass
class SummaryText:
    """The per-side part of one session's text: side lines and asymmetry sentences."""

    sides: dict[tuple[str, str, str, str], str] = field(default_factory=dict)
    sentences: dict[tuple[str, str, str], str] = field(default_factory=dict)


def parse_summary(lines: list[str], tracksys: set[str]) -> SummaryText:
    """Side lines keyed (tracksys, condition, label, side); sentences (tracksys, condition, label).

    A wrapped line (one ending in ',' ';' or inside brackets) is joined with the next.
    """
    out = SummaryText()
    sensor = condition = label = ""
    in_summary = False
    joined: list[str] = []
    for line in lines:
        if joined and (
            joined[-1].rstrip().endswith((",", ";"))
            or joined[-1].count("(") > joined[-1].count(")")
        ):
            joined[-1] += " " + line.strip()
        else:
            joined.append(line)
    for line in joined:
        name = line.split(" (")[0].strip()
        if line.startswith(" ") and not line.startswith("  ") and name in tracksys:
            sensor, in_summary = name, False
        elif line.startswith(" per side"):
            in_summary = True
        elif in_summary and line.startswith("  ") and not line.startswith("   "):
            condition = line.strip()
        elif in_summary and (match := SIDE_LINE.match(line)):
            label = match.group("label") or label
            out.sides[(sensor, condition, label, match.group("side"))] = match.group("rest")
        elif in_summary and line.strip():
            out.sentences[(sensor, condition, label)] = line.strip()
    return out


def condition_words(condition: str) -> str:
    trial_type, surface, vision = condition.split("/")
    return f"{WORDS.get(trial_type, trial_type)}, {WORDS.get(surface, surface)}, eyes {vision}"


def summaries(analysed: Analysed) -> list[tuple[dict[str, Any], SummaryText]]:
    blocks = session_blocks(analysed.text)
    pairs = []
    for session in analysed.sessions:
        summary = session["summary"]
        lines = blocks[f"{session['athlete']}/{session['session']}"]
        pairs.append((session, parse_summary(lines, set(summary))))
    return pairs


def printed_number(text: str, unit: str) -> float:
    match = re.search(rf"(-?[\d.]+) {re.escape(unit)}", text)
    assert match, f"no value in {unit} in {text!r}"
    return float(match.group(1))


# ---------------------------------------------------------------- tests


def test_every_line_fits_80_columns_in_cp1252(examples: Analysed, wobble: Analysed) -> None:
    for analysed in (examples, wobble):
        assert analysed.text.strip()
        for line in analysed.text.splitlines():
            assert len(line) <= 80, line
        analysed.text.encode("cp1252")  # a Windows console or redirected file takes it


def test_trials_take_a_head_line_and_a_metrics_line_without_codes(examples: Analysed) -> None:
    lines = examples.text.splitlines()
    heads = [i for i, line in enumerate(lines) if re.match(r"^ +\d+ +\d+\.\d s  ", line)]
    assert len(heads) == sum(len(s["trials"]) for s in examples.sessions)
    for i in heads:
        assert re.search(r"  (valid|INVALID)$", lines[i]), lines[i]
        assert lines[i + 1].startswith("      ") and lines[i + 1].strip(), lines[i + 1]
        assert "_" not in lines[i] + lines[i + 1]  # no snake_case codes shown to a person
    assert "flags: gap (split, " in examples.text and "% kept)" in examples.text
    assert "gap_split" not in examples.text and "=" not in examples.text


def test_cop_area_in_cm2_is_the_json_mm2_over_100(
    examples: Analysed, capsys: pytest.CaptureFixture[str]
) -> None:
    plate = analyse(BDS_FILE, capsys, "--trial-type", "double_leg_hold")
    checked = 0
    for analysed in (examples, plate):
        blocks = session_blocks(analysed.text)
        for session in analysed.sessions:
            areas = [
                t["metrics"]["sway_area_95"]
                for t in session["trials"]
                if t["metrics"].get("sway_area_95", {}).get("unit") == "mm^2"
            ]
            shown = [
                printed_number(line, "cm²")
                for line in blocks[f"{session['athlete']}/{session['session']}"]
                if line.startswith("      sway area") and "cm²" in line
            ]
            assert len(shown) == len(areas)
            for cm2, area in zip(shown, areas, strict=True):
                assert area["unit"] == "mm^2"  # the JSON keeps METRICS.md's unit
                assert cm2 == pytest.approx(area["value"] / 100, rel=5e-3)
                checked += 1
    assert checked >= 7  # the six example plate trials and the BDS file


def test_asymmetry_sentence_names_the_worse_side_and_agrees_with_flagged(
    examples: Analysed, wobble: Analysed
) -> None:
    seen = {"beyond": 0, "within": 0}
    for analysed in (examples, wobble):
        for session, text in summaries(analysed):
            for sensor, conditions in session["summary"].items():
                for condition, summary in conditions.items():
                    for key, asym in summary.get("asymmetry", {}).items():
                        if key not in HIGHER_IS_WORSE | HIGHER_IS_BETTER:
                            continue
                        where = (sensor, condition_words(condition), LABELS[key])
                        sentence = text.sentences[where]
                        right_higher = asym["value"] > 0
                        right_worse = right_higher == (key in HIGHER_IS_WORSE)
                        worse, better = ("right", "left") if right_worse else ("left", "right")
                        if abs(asym["value"]) < 0.5:
                            assert sentence.startswith("left and right about equal")
                            continue
                        said = SENTENCE.match(sentence)
                        assert said, sentence
                        assert said["worse"] == worse and said["better"] == better
                        assert float(said["size"]) == pytest.approx(abs(asym["value"]), abs=0.5)
                        if asym["flagged"] is None:
                            assert said["verdict"] is None and "no MDC known" in sentence
                            continue
                        assert said["verdict"] == ("beyond" if asym["flagged"] else "within")
                        assert float(said["mdc"]) == pytest.approx(asym["mdc95_pct"], abs=0.5)
                        seen[said["verdict"]] += 1
    assert seen["beyond"] and seen["within"]


def test_higher_is_better_metrics_are_worded_the_other_way_round(wobble: Analysed) -> None:
    ((session, text),) = summaries(wobble)
    board = session["summary"]["simboard"]["single_leg_hold/wobble_board/open"]
    left, right = board["left"]["time_in_zone"]["value"], board["right"]["time_in_zone"]["value"]
    sentence = text.sentences[
        ("simboard", "single-leg hold, wobble board, eyes open", "time in zone")
    ]
    worse = "left" if left < right else "right"  # less time in the zone is worse
    assert sentence.startswith(f"{worse} ") and "worse than" in sentence


def test_few_trials_note_appears_exactly_below_the_recommendation(
    examples: Analysed, wobble: Analysed
) -> None:
    counts = {"few": 0, "enough": 0}
    for analysed in (examples, wobble):
        for session, text in summaries(analysed):
            for sensor, conditions in session["summary"].items():
                for condition, summary in conditions.items():
                    recommended = RECOMMENDED[condition.split("/")[0]]
                    for side in ("left", "right", "both"):
                        for key, value in summary.get(side, {}).items():
                            if key not in HIGHER_IS_WORSE | HIGHER_IS_BETTER:
                                continue
                            where = (sensor, condition_words(condition), LABELS[key], side)
                            note = NOTE.search(text.sides[where])
                            assert note, text.sides[where]
                            if value["n"] < recommended:
                                assert note.group("few") == str(value["n"])
                                assert note.group("rec") == str(recommended)
                                counts["few"] += 1
                            else:
                                assert note.group("n") == str(value["n"]) and not note["few"]
                                counts["enough"] += 1
    assert counts["few"] and counts["enough"]


def test_a_real_force_plate_file_prints_a_sensible_trial(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plate = analyse(BDS_FILE, capsys, "--trial-type", "double_leg_hold")
    lines = plate.text.splitlines()
    assert lines[0].startswith("sub-") and "BDS00001.txt" in lines[1]
    (i,) = [i for i, line in enumerate(lines) if "double-leg hold  both" in line]
    assert re.fullmatch(
        r" +1 +0\.0 s  double-leg hold  both  firm, eyes open  completed  valid", lines[i]
    )
    area_cm2, velocity = printed_number(lines[i + 1], "cm²"), printed_number(lines[i + 1], "mm/s")
    assert 0.1 < area_cm2 < 50 and 1 < velocity < 100  # quiet two-leg stance on a firm plate
    (metrics,) = [t["metrics"] for t in plate.sessions[0]["trials"]]
    assert velocity == pytest.approx(metrics["mean_velocity"]["value"], rel=5e-3)
    assert "both   0." in plate.text and "(only 1 trial, 3 recommended)" in plate.text


def test_tts_shows_its_90_percent_interval_and_an_open_end() -> None:
    closed = Metric(1.12, "s", "moving_rms", interval_90=(0.95, 1.4))
    open_end = Metric(1.12, "s", "moving_rms", interval_90=(0.95, None))
    assert metric_text(closed) == "1.12 s (90 %: 0.95–1.40)"
    assert metric_text(open_end) == "1.12 s (90 %: 0.95–never)"


def test_asymmetry_words_follow_the_metrics_example() -> None:
    # Sway area, left 2.25 vs right 1.28: right is 43 % lower, so left is 43 % worse.
    sway = describe_asymmetry("sway_area_95", compute_asymmetry(2.25, 1.28, 20.0))
    assert sway == "left 43 % worse than right, beyond the test's noise (MDC 40 %)"
    velocity = describe_asymmetry("mean_velocity", compute_asymmetry(10.0, 11.0, 10.0))
    assert velocity == "right 9 % worse than left, within the test's noise (MDC 23 %)"
    zone = describe_asymmetry("time_in_zone", compute_asymmetry(90.0, 95.0, None))
    assert zone == "left 5 % worse than right; no MDC known for this measure"

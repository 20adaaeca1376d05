"""The example dataset shipped in `recordings/`: a simulated athlete over six weeks, plus real
force-plate trials (Santos & Duarte 2016; dos Santos et al. 2017; CC BY 4.0) when given."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from balancelab.engine.jobs import import_to_dataset, write_truth
from balancelab.errors import DatasetError
from balancelab.formats.bids import write_text_atomic
from balancelab.formats.bids_writer import write_session
from balancelab.formats.dataset import Participant, StagedWrite
from balancelab.model import Side, Surface, Trial, TrialType, Vision
from balancelab.sim import AthleteParams, Scenario, TrialSpec, lowback_imu, simulate_session

DEMO_ATHLETE = "demo01"
FIRST_SESSION_UTC = datetime(2026, 9, 7, 7, 30, tzinfo=UTC)
WEEKS = (0, 2, 4, 6)


def weekly_check() -> Scenario:
    """Two 20-s single-leg holds and two step-downs per side.

    The sensor is a lower-back accelerometer at 100 Hz (no gyroscope, like a heart-rate strap
    worn on the belt), which keeps the example dataset small.
    """
    holds = tuple(
        TrialSpec(TrialType.SINGLE_LEG_HOLD, side, duration_s=20.0, rest_after_s=6.0)
        for _ in range(2)
        for side in (Side.LEFT, Side.RIGHT)
    )
    landings = tuple(
        TrialSpec(TrialType.STEP_DOWN, side, duration_s=10.0, rest_after_s=4.0)
        for _ in range(2)
        for side in (Side.LEFT, Side.RIGHT)
    )
    return Scenario(
        "weekly_check",
        "Weekly check: single-leg holds and step-downs, both sides.",
        holds + landings,
        sensors=(replace(lowback_imu(fs_hz=100.0), gyro=False),),
        lead_in_s=3.0,
        task="weeklycheck",
    )


def athlete_in_week(week: int) -> AthleteParams:
    """The demo athlete after `week` weeks of training: less sway, a shrinking left deficit."""
    base = AthleteParams()
    return AthleteParams(
        noise_bipedal_ap=base.noise_bipedal_ap * (1.0 - 0.03 * week),
        noise_bipedal_ml=base.noise_bipedal_ml * (1.0 - 0.03 * week),
        weaker_side=Side.LEFT,
        weak_side_sway_factor=1.35 - 0.04 * week,
    )


@dataclass(frozen=True)
class ForcePlateTrial:
    """A real force-plate file and what it was: the athlete label, start and condition."""

    file: str
    athlete: str
    start_utc: datetime
    surface: Surface
    vision: Vision


FORCE_PLATE_TRIALS = (
    ForcePlateTrial(
        "bds/BDS00001.txt",
        "bds1",
        datetime(2015, 10, 8, 8, 30, tzinfo=UTC),
        Surface.FIRM,
        Vision.OPEN,
    ),
    ForcePlateTrial(
        "bds/BDS00010.txt",
        "bds1",
        datetime(2015, 10, 8, 8, 40, tzinfo=UTC),
        Surface.FOAM,
        Vision.CLOSED,
    ),
    ForcePlateTrial(
        "bds/BDS00037.txt",
        "bds4",
        datetime(2015, 10, 12, 11, 11, tzinfo=UTC),
        Surface.FIRM,
        Vision.OPEN,
    ),
    ForcePlateTrial(
        "bds/BDS00043.txt",
        "bds4",
        datetime(2015, 10, 12, 11, 21, tzinfo=UTC),
        Surface.FOAM,
        Vision.CLOSED,
    ),
    ForcePlateTrial(
        "pds/PDS13OR1grf.txt",
        "pds13",
        datetime(2016, 8, 24, 10, 50, tzinfo=UTC),
        Surface.FIRM,
        Vision.OPEN,
    ),
    ForcePlateTrial(
        "pds/PDS13CF1grf.txt",
        "pds13",
        datetime(2016, 8, 24, 11, 0, tzinfo=UTC),
        Surface.FOAM,
        Vision.CLOSED,
    ),
)
"""The session dates are the data sets' own; the minutes within a day only order the trials."""


EXAMPLE_README = """\
balancelab example recordings (Motion-BIDS).

sub-demo01: a simulated athlete (balancelab's simulated athlete, deterministic seeds 100-106)
tested every two weeks from 2026-09-07: two 20-s single-leg holds and two step-downs per side,
lower-back accelerometer at 100 Hz. The left side is weaker and improves with training. The
simulator's ground truth of each session is in derivatives/simulation/.

sub-bds1, sub-bds4, sub-pds13: real force-plate recordings of bipedal quiet standing (60 s,
100 Hz), eyes open on firm ground and eyes closed on foam, converted with `balancelab import`:
- sub-bds1 (BDS00001, BDS00010) and sub-bds4 (BDS00037, BDS00043): Santos DA, Duarte M (2016).
  A public data set of human balance evaluations. PeerJ 4:e2648.
  https://doi.org/10.7717/peerj.2648. Data: https://doi.org/10.6084/m9.figshare.3394432
- sub-pds13 (PDS13OR1, PDS13CF1; net centre of pressure of two plates): dos Santos DA,
  Fukuchi CA, Fukuchi RK, Duarte M (2017). A data set with kinematic and ground reaction forces
  of human balance. PeerJ 5:e3626. https://doi.org/10.7717/peerj.3626
These recordings are licensed under Creative Commons Attribution 4.0 International
(https://creativecommons.org/licenses/by/4.0/); the conversion changed units and column order
only. The session times are the data sets' own dates; minutes within a day order the trials.
"""


def build_example_dataset(root: Path, force_plate_data: Path | None = None) -> list[Path]:
    """Write the example dataset into `root`; returns the session folders written.

    The force-plate files are checked first: a wrong folder writes nothing. The sessions enter
    the dataset together when all are written; an interruption leaves none of them.
    """
    if force_plate_data is not None:
        missing = [t.file for t in FORCE_PLATE_TRIALS if not (force_plate_data / t.file).is_file()]
        if missing:
            raise DatasetError(
                f"{force_plate_data} lacks {len(missing)} of the force-plate files the"
                f" examples use, e.g. {missing[0]}",
                advice="Give the folder that holds bds/ and pds/ (e.g. ../shared/data), or"
                " leave out --force-plate-data.",
            )
    with StagedWrite.begin(root) as staged:
        written = [_simulated_week(staged, week) for week in WEEKS]
        if force_plate_data is not None:
            written += [
                _force_plate_session(staged, force_plate_data, t) for t in FORCE_PLATE_TRIALS
            ]
    if force_plate_data is not None:
        write_text_atomic(staged.root / "README", EXAMPLE_README)
    return written


def _simulated_week(staged: StagedWrite, week: int) -> Path:
    start = FIRST_SESSION_UTC + timedelta(weeks=week)
    session, truth = simulate_session(
        weekly_check(),
        athlete_in_week(week),
        seed=100 + week,
        athlete_label=DEMO_ATHLETE,
        start_utc=start,
    )
    participant = Participant(DEMO_ATHLETE, dominant_leg="right", injured_side="left")
    session_dir = write_session(staged.root, session, participant=participant, staged=staged)
    write_truth(staged.folder, session, truth, series_fs_hz=2.0)
    return session_dir


def _force_plate_session(staged: StagedWrite, data: Path, trial: ForcePlateTrial) -> Path:
    hold = Trial(0.0, 0.0, TrialType.DOUBLE_LEG_HOLD, Side.BOTH, trial.surface, trial.vision)
    return import_to_dataset(
        data / trial.file,
        staged.root,
        athlete=trial.athlete,
        task="quietstance",
        start_utc=trial.start_utc,
        whole_file_trial=hold,
        staged=staged,
    )

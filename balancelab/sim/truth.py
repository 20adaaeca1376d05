"""What the simulator knows exactly: returned with every simulated session.

Times are on the session clock (s) unless noted; angles rad; COP/COM m (x AP forward, y ML
left, from the stance ankle; double-leg: from the mid-point between the ankles).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from balancelab.model import FloatArray, Trial
from balancelab.sim.athlete import AthleteParams, Condition
from balancelab.sim.board import BoardParams
from balancelab.sim.sensors import ImuErrors

SETTLING_DEFINITION = (
    "The quantity the default TTS method (science/METRICS.md: 0.5-s moving RMS below mean + "
    "3 SD of a quiet reference's moving RMS until the window ends) estimates, computed without "
    "noise. Noiseless transient: the same landing (initial sway state, impact, segmental "
    "landing response, controller) with the motor-noise torque set to zero, taken over the "
    "first 10 s from impact about its mean over that span's last 3 s. Quiet reference: 120 s "
    "of noise-only quiet stance in the landing's condition (same athlete, side, surface, "
    "vision), simulated from rest (first 5 s dropped) on its own random stream; its centred "
    "0.5-s moving RMS (about its mean) gives threshold = mean + 3 SD and quiet_rms = root of "
    "the mean moving mean square. Band = sqrt(threshold^2 - quiet_rms^2): the expected moving "
    "RMS of transient plus quiet noise, sqrt(e^2 + quiet_rms^2), is at the threshold when the "
    "transient's own moving RMS e equals it. Settling time: end of the last excursion of e "
    "(centred 0.5-s moving RMS of the noiseless transient's AP-ML norm) above the band; null "
    "if it lasts to the trial end. Computed for the lower-back horizontal specific force in "
    "the segment frame (what a lower-back IMU sees after static tilt correction) and for the "
    "COP. Both the quiet reference and the transient pass first through the method's own "
    "pre-processing low-pass (METRICS.md: zero-lag 4th-order Butterworth, 3.5 Hz for body "
    "acceleration, 10 Hz for COP), which is part of the quantity it estimates."
)


@dataclass(frozen=True)
class Touchdown:
    """A free-foot touch-down: start and end (s), 'scripted' or 'emergent'."""

    start_s: float
    end_s: float
    kind: str


@dataclass(frozen=True)
class EdgeContact:
    """A board-edge contact: start and end (s), impact tilt rate (rad/s), spike peak (m/s^2)."""

    start_s: float
    end_s: float
    impact_rate_rad_s: float
    spike_peak_ms2: float


@dataclass(frozen=True)
class Landing:
    """A step-down or hop landing and its true settling.

    impact_s: first contact (session clock); peak_g: vertical accelerometer peak intended (g);
    initial_tilt_rad / initial_rate_rad_s: (AP, ML) sway state at impact; settling times in s
    from impact (None: not settled by the trial end); see SETTLING_DEFINITION for the bands,
    thresholds (mean + 3 SD of the quiet moving RMS) and quiet RMS of each signal.
    noiseless_*: the noiseless transients from impact to trial end, at `fs_hz`, (n, 2) (AP, ML),
    through the method's low-pass (SETTLING_DEFINITION).
    """

    impact_s: float
    touchdown_speed_m_s: float
    peak_g: float
    initial_tilt_rad: tuple[float, float]
    initial_rate_rad_s: tuple[float, float]
    settling_time_s: float | None
    settling_time_cop_s: float | None
    band_acc_ms2: float
    band_cop_m: float
    threshold_acc_ms2: float
    threshold_cop_m: float
    quiet_rms_acc_ms2: float
    quiet_rms_cop_m: float
    fs_hz: float
    noiseless_acc_ms2: FloatArray
    noiseless_cop_m: FloatArray


@dataclass(frozen=True)
class TrialTruth:
    """One trial as simulated: the events.tsv row plus what happened in it."""

    trial: Trial
    condition: Condition
    touchdowns: tuple[Touchdown, ...] = ()
    edge_contacts: tuple[EdgeContact, ...] = ()
    lapses_s: tuple[float, ...] = ()
    landing: Landing | None = None


@dataclass(frozen=True)
class SensorTruth:
    """One sensor's drawn errors and its error-free signal at the true sample instants.

    true_time_s (n,): when each stored row was really sampled. clean (n, c): the error-free
    values in the sensor axes (SI, same columns as the recording). true_tilt_rad (n, 2): the
    (AP, ML) tilt of the tracked segment or board at those instants (COP: zeros).
    lost_runs: (first row, row count) of each NaN run.
    """

    tracksys: str
    tracked_point: str
    fs_hz: float
    true_time_s: FloatArray
    clean: FloatArray
    true_tilt_rad: FloatArray
    lost_runs: tuple[tuple[int, int], ...]
    lost_samples: int
    saturated_samples: int
    imu_errors: ImuErrors | None = None
    acc_bias_trace: FloatArray = field(default_factory=lambda: np.zeros((0, 3)))
    gyro_bias_trace: FloatArray = field(default_factory=lambda: np.zeros((0, 3)))
    jitter_sd_s: float = 0.0
    cop_offset_m: tuple[float, float] = (0.0, 0.0)
    cop_noise_sd_m: float = 0.0


@dataclass(frozen=True)
class BodySeries:
    """True time series at `fs_hz` from the session onset: (n, 2) arrays (AP, ML).

    theta: body tilt (rad); com: COM horizontal position h sin(theta) (m); cop: COP (m, both
    from the ankle of the stance foot or the mid-point of both feet); board: board tilt (rad,
    zero when the athlete is off the board); support: free foot down; edge: board edge down.
    """

    fs_hz: float
    theta: FloatArray
    com: FloatArray
    cop: FloatArray
    board: FloatArray
    support: np.ndarray[tuple[int], np.dtype[np.bool_]]
    edge: np.ndarray[tuple[int], np.dtype[np.bool_]]

    @property
    def time_s(self) -> FloatArray:
        """Sample times (s)."""
        return np.arange(self.theta.shape[0]) / self.fs_hz


@dataclass(frozen=True)
class Truth:
    """Everything the simulator knows about one simulated session."""

    seed: int
    scenario: str
    athlete: AthleteParams
    board: BoardParams
    internal_fs_hz: float
    trials: tuple[TrialTruth, ...]
    sensors: tuple[SensorTruth, ...]
    series: BodySeries
    side_factors: dict[str, float]
    settling_definition: str = SETTLING_DEFINITION

    def sensor(self, tracksys: str) -> SensorTruth:
        """The truth of one sensor by its tracksys label."""
        for s in self.sensors:
            if s.tracksys == tracksys:
                return s
        raise KeyError(tracksys)

    def to_json_dict(self, series_fs_hz: float = 10.0) -> dict[str, Any]:
        """JSON-ready truth; time series decimated to about `series_fs_hz` (Hz)."""
        step = max(1, round(self.series.fs_hz / series_fs_hz))
        s = self.series
        return {
            "seed": self.seed,
            "scenario": self.scenario,
            "athlete": self.athlete.to_json_dict(),
            "board": self.board.to_json_dict(),
            "internal_fs_hz": self.internal_fs_hz,
            "side_factors": self.side_factors,
            "settling_definition": self.settling_definition,
            "trials": [_trial_json(t) for t in self.trials],
            "sensors": [_sensor_json(x) for x in self.sensors],
            "series": {
                "fs_hz": s.fs_hz / step,
                "theta_rad": _round(s.theta[::step]),
                "com_m": _round(s.com[::step]),
                "cop_m": _round(s.cop[::step]),
                "board_rad": _round(s.board[::step]),
            },
        }


def _round(a: FloatArray, digits: int = 6) -> list[Any]:
    out: list[Any] = np.round(a, digits).tolist()
    return out


def _trial_json(t: TrialTruth) -> dict[str, Any]:
    tr = t.trial
    d: dict[str, Any] = {
        "onset_s": tr.onset_s,
        "duration_s": tr.duration_s,
        "trial_type": str(tr.trial_type),
        "side": str(tr.side),
        "surface": str(tr.surface),
        "vision": str(tr.vision),
        "outcome": str(tr.outcome),
        "condition": t.condition.to_json_dict(),
        "touchdowns": [vars(x) for x in t.touchdowns],
        "edge_contacts": [vars(x) for x in t.edge_contacts],
        "lapses_s": list(t.lapses_s),
        "landing": None,
    }
    if t.landing is not None:
        ld = t.landing
        d["landing"] = {
            "impact_s": ld.impact_s,
            "touchdown_speed_m_s": ld.touchdown_speed_m_s,
            "peak_g": ld.peak_g,
            "initial_tilt_rad": list(ld.initial_tilt_rad),
            "initial_rate_rad_s": list(ld.initial_rate_rad_s),
            "settling_time_s": ld.settling_time_s,
            "settling_time_cop_s": ld.settling_time_cop_s,
            "band_acc_ms2": ld.band_acc_ms2,
            "band_cop_m": ld.band_cop_m,
            "threshold_acc_ms2": ld.threshold_acc_ms2,
            "threshold_cop_m": ld.threshold_cop_m,
            "quiet_rms_acc_ms2": ld.quiet_rms_acc_ms2,
            "quiet_rms_cop_m": ld.quiet_rms_cop_m,
        }
    return d


def _sensor_json(s: SensorTruth) -> dict[str, Any]:
    return {
        "tracksys": s.tracksys,
        "tracked_point": s.tracked_point,
        "fs_hz": s.fs_hz,
        "n_samples": int(s.true_time_s.size),
        "lost_samples": s.lost_samples,
        "lost_runs": [list(r) for r in s.lost_runs],
        "saturated_samples": s.saturated_samples,
        "jitter_sd_s": s.jitter_sd_s,
        "imu_errors": None if s.imu_errors is None else s.imu_errors.to_json_dict(),
        "acc_bias_final_ms2": s.acc_bias_trace[-1].tolist() if s.acc_bias_trace.size else None,
        "gyro_bias_final_rad_s": (
            s.gyro_bias_trace[-1].tolist() if s.gyro_bias_trace.size else None
        ),
        "cop_offset_m": list(s.cop_offset_m),
        "cop_noise_sd_m": s.cop_noise_sd_m,
    }

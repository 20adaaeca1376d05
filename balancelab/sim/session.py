"""simulate_session: a scenario, an athlete and sensors -> (model.Session, Truth), seeded.

Timeline: `lead_in_s` of quiet bipedal stance, then each trial followed by its rest (bipedal
stance, off the board). The body is integrated at `internal_fs_hz` over the whole session in
segments that hand their mechanical state on; sensors sample the resulting kinematics at
their own (true) instants (sim.sampling). Random streams are split with numpy SeedSequence:
body noise, event draws and each sensor have their own, so adding a sensor does not change the
body.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
from scipy import signal

from balancelab.dsp.preprocess import lowpass
from balancelab.errors import SimulationError
from balancelab.model import FloatArray, Outcome, Session, Side, Surface, Trial, TrialType, Vision
from balancelab.sim.athlete import AthleteParams, Condition, condition_for
from balancelab.sim.board import BoardParams, FoamParams
from balancelab.sim.body import NDArrayBool, StanceResult, StanceState, Support, simulate_stance
from balancelab.sim.events import (
    SETTLING_ACC_CUTOFF_HZ,
    SETTLING_COP_CUTOFF_HZ,
    SETTLING_FILTER_ORDER,
    QuietBand,
    about_level,
    compute_settling_time,
    edge_impact_spike,
    half_sine,
    landing_profile,
    landing_response,
    quiet_band,
    touchdown_bump,
)
from balancelab.sim.sampling import (
    TRUTH_FS_HZ,
    Kinematics,
    RecordingHeader,
    record_sensors,
    sample_body_series,
    segment_signals,
    true_runs,
)
from balancelab.sim.scenarios import Scenario, TrialSpec, get_scenario
from balancelab.sim.sensors import ImuSpec, SensorSpec
from balancelab.sim.truth import EdgeContact, Landing, TrialTruth, Truth
from balancelab.sim.truth import Touchdown as TouchdownTruth

STANCE_HALF_WIDTH_M = 0.1  # ankle to the mid-point between the feet (ML), bipedal stance
BOARD_RELEASE_S = 0.3  # the unloaded board returns level over this time
QUIET_REFERENCE_S = 120.0  # noise-only quiet stance per landing condition (settling bands)
QUIET_WARMUP_S = 5.0  # dropped from its start (it starts from rest)
# The trunk's motion grows with the condition's trembling, less than in proportion: single-leg
# trunk sway is ~2-3x two-leg, eyes closed on one leg ~2.5x open (calibration test).
TRUNK_NOISE_EXPONENT = 0.75


def unit_noise(rng: np.random.Generator, n: int, fs: float, athlete: AthleteParams) -> FloatArray:
    """(n, 2) low-pass filtered white noise of unit RMS (Butterworth, athlete's cut-off)."""
    ba = signal.butter(athlete.noise_filter_order, athlete.noise_cutoff_hz, fs=fs)
    return _unit_filtered(rng, n, ba, fs)


def unit_drift(rng: np.random.Generator, n: int, fs: float, athlete: AthleteParams) -> FloatArray:
    """(n, 2) slowly wandering reference of unit RMS (2nd-order Butterworth, drift cut-off)."""
    return _unit_filtered(rng, n, signal.butter(2, athlete.drift_cutoff_hz, fs=fs), fs)


def unit_trunk(rng: np.random.Generator, n: int, fs: float, athlete: AthleteParams) -> FloatArray:
    """(n, 2) trunk-on-pelvis acceleration of unit RMS (2nd-order Butterworth band-pass)."""
    band = signal.butter(2, athlete.trunk_band_hz, btype="bandpass", fs=fs)
    return _unit_filtered(rng, n, band, fs)


def _unit_filtered(
    rng: np.random.Generator, n: int, ba: tuple[FloatArray, FloatArray], fs: float
) -> FloatArray:
    """White noise through the filter (b, a), scaled to unit RMS by the filter's own gain."""
    b, a = ba
    warm = round(30 * fs)
    impulse = np.zeros(warm)
    impulse[0] = 1.0
    gain = math.sqrt(float(np.sum(signal.lfilter(b, a, impulse) ** 2)))
    x = rng.standard_normal((n + warm, 2)) / gain
    return np.asarray(signal.lfilter(b, a, x, axis=0)[warm:], dtype=np.float64)


def trunk_scale_ms2(athlete: AthleteParams, cond: Condition) -> FloatArray:
    """(AP, ML) RMS of the trunk-on-pelvis acceleration in a condition (m/s^2)."""
    size = athlete.trunk_acc_rms_ms2 * cond.noise_factor**TRUNK_NOISE_EXPONENT
    return np.array([size, size * athlete.trunk_ml_ratio])


def rest_condition(athlete: AthleteParams) -> Condition:
    """Quiet bipedal stance between trials."""
    return condition_for(athlete, TrialType.DOUBLE_LEG_HOLD, Side.BOTH, Surface.FIRM, Vision.OPEN)


class _Simulator:
    """One run of simulate_session (keeps the shared state of the helpers together)."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        athlete: AthleteParams,
        board: BoardParams,
        foam: FoamParams,
        seed: int,
        fs: float,
        lowback_height_ratio: float,
    ) -> None:
        self.sc, self.ath, self.board, self.foam, self.fs = scenario, athlete, board, foam, fs
        self.seed = seed
        # Streams 4 and 5: the noise-only quiet stances that set the landings' settling bands,
        # and the landing-response draws; 6 and 7: the wandering reference and the trunk.
        spawned = np.random.SeedSequence(seed).spawn(7)
        body_ss, event_ss, sensor_ss, quiet_ss, landing_ss, drift_ss, trunk_ss = spawned
        self.sensor_ss = sensor_ss
        self.quiet_rng = np.random.default_rng(quiet_ss)
        self.landing_rng = np.random.default_rng(landing_ss)
        self.quiet_bands: dict[Condition, tuple[QuietBand, QuietBand]] = {}
        self.erng = np.random.default_rng(event_ss)
        self.n = round(scenario.duration_s * fs)
        self.noise = unit_noise(np.random.default_rng(body_ss), self.n, fs, athlete)
        self.drift = unit_drift(np.random.default_rng(drift_ss), self.n, fs, athlete)
        self.trunk = unit_trunk(np.random.default_rng(trunk_ss), self.n, fs, athlete)
        self.k = Kinematics(self.n)
        self.state = StanceState()
        self.h_lowback = lowback_height_ratio * athlete.height_m
        self.trials: list[TrialTruth] = []

    def idx(self, t_s: float) -> int:
        return min(self.n, max(0, round(t_s * self.fs)))

    def durations(self) -> list[float]:
        a = self.ath
        draws: list[float] = self.erng.uniform(a.touchdown_min_s, a.touchdown_max_s, 20).tolist()
        return draws

    def run_segment(
        self,
        i0: int,
        i1: int,
        cond: Condition,
        *,
        on_board: bool = False,
        foam: bool = False,
        forced: NDArrayBool | None = None,
        extra_torque: FloatArray | None = None,
        durations: list[float] | None = None,
        noise_on: bool = True,
    ) -> StanceResult:
        n = i1 - i0
        scale = np.array([cond.ap.noise_rms_nm, cond.ml.noise_rms_nm])
        torque = self.noise[i0:i1] * scale if noise_on else np.zeros((n, 2))
        reference = None
        if noise_on:
            drift = np.array([cond.ap.drift_rms_rad, cond.ml.drift_rms_rad])
            reference = self.drift[i0:i1] * drift
            # The trunk's own motion belongs to the noisy segment (the noiseless run of a
            # landing's truth leaves it alone).
            self.k.trunk_acc[i0:i1] = self.trunk[i0:i1] * trunk_scale_ms2(self.ath, cond)
        if extra_torque is not None:
            torque = torque + extra_torque
        support = Support.for_condition(self.ath, cond.single_leg)
        return simulate_stance(
            self.ath,
            condition=cond,
            support=support,
            noise_nm=torque,
            fs=self.fs,
            state=self.state,
            forced_support=forced if forced is not None else np.zeros(n, dtype=bool),
            touchdown_durations_s=durations if durations is not None else self.durations(),
            board=self.board if on_board else None,
            foam=self.foam if foam else None,
            reference_rad=reference,
        )

    def rest(self, i0: int, i1: int, release_board: bool) -> None:
        if i1 <= i0:
            return
        self.state.psi = [0.0, 0.0]
        self.k.store(i0, self.run_segment(i0, i1, rest_condition(self.ath)))
        if release_board:
            m = min(i1 - i0, max(2, round(BOARD_RELEASE_S * self.fs)))
            ramp = 0.5 * (1 + np.cos(np.pi * np.arange(m) / m))
            phi0 = np.array(self.state.phi)
            self.k.phi[i0 : i0 + m] = ramp[:, None] * phi0
            self.k.phi_rate[i0 : i0 + m] = np.gradient(self.k.phi[i0 : i0 + m], 1 / self.fs, axis=0)
            self.state.phi, self.state.phi_rate = [0.0, 0.0], [0.0, 0.0]

    def hold(self, spec: TrialSpec, i0: int, i1: int, cond: Condition) -> None:
        n = i1 - i0
        forced = np.zeros(n, dtype=bool)
        for t in spec.touchdowns_s:
            dur = float(self.erng.uniform(self.ath.touchdown_min_s, self.ath.touchdown_max_s))
            forced[self.idx(t) : self.idx(t + dur)] = True
        extra = np.zeros((n, 2))
        mgh = self.ath.gravity_stiffness
        for t in spec.lapses_s:
            j = self.idx(t)
            pulse = half_sine(max(2, round(self.ath.lapse_duration_s * self.fs)))
            sign = 1.0 if self.erng.random() < 0.5 else -1.0
            seg = pulse[: n - j] * sign * self.ath.lapse_torque_ratio * mgh
            extra[j : j + seg.size, 1] += seg
        on_board = spec.surface is Surface.WOBBLE_BOARD
        if on_board:
            self.state.phi, self.state.phi_rate = [0.0, 0.0], [0.0, 0.0]
        r = self.run_segment(
            i0, i1, cond, on_board=on_board, foam=cond.foam, forced=forced, extra_torque=extra
        )
        self.k.store(i0, r)
        self.state.psi = [0.0, 0.0]

    def landing(self, spec: TrialSpec, i0: int, i1: int, cond: Condition) -> Landing:
        kind = "step_down" if spec.trial_type is TrialType.STEP_DOWN else "hop"
        prof = landing_profile(
            kind, spec.landing_height_m, self.fs, float(self.erng.uniform(0.9, 1.1))
        )
        i_move = i0 + self.idx(spec.pre_s)
        i_imp = min(i_move + prof.impact_index, i1 - 1)
        seg = prof.acc_ms2[: i1 - i_move]
        self.k.vertical[i_move : i_move + seg.size] += seg
        # Before the movement the athlete balances on the test leg (single-leg drop landing or
        # hop): the same stance condition as after the landing.
        self.k.store(i0, self.run_segment(i0, i_imp, cond))
        a = self.ath
        # A less controlled landing (weaker side, landing_control > 1) starts with more sway.
        weak = a.landing_control * (
            a.weak_side_landing_factor if spec.side is a.weaker_side else 1.0
        )
        signs = np.where(self.erng.random(4) < 0.5, -1.0, 1.0)
        sway_max = np.array([a.landing_sway_ap_rad, a.landing_sway_ml_rad])
        tilt = signs[:2] * self.erng.uniform(0.5, 1.0, 2) * sway_max * weak
        rate = signs[2:] * self.erng.uniform(0.0, 1.0, 2) * a.landing_rate_rad_s * weak
        decay = (
            a.landing_decay_s
            * a.landing_control
            * (a.weak_side_landing_decay_factor if spec.side is a.weaker_side else 1.0)
        )
        size = self.landing_rng.uniform(0.6, 1.0, 2) * np.array([1.0, a.landing_ml_ratio])
        phase = self.landing_rng.uniform(0.0, 2 * np.pi, 2)
        n_land = i1 - i_imp
        resp_acc, resp_cop = (
            landing_response(
                self.fs,
                n_land,
                amplitude=(float(size[0] * peak), float(size[1] * peak)),
                phase_rad=(float(phase[0]), float(phase[1])),
                freq_hz=a.landing_freq_hz,
                decay_s=decay,
            )
            for peak in (a.landing_acc_ms2, a.landing_cop_m)
        )
        durations = self.durations()
        start = replace(
            self.state,
            theta=tilt.tolist(),
            omega=rate.tolist(),
            integral=[0.0, 0.0],
            psi=[0.0, 0.0],
        )
        self.state = replace(start)
        noisy = self.run_segment(i_imp, i1, cond, durations=list(durations))
        after = self.state
        self.state = replace(start)
        quiet = self.run_segment(i_imp, i1, cond, durations=list(durations), noise_on=False)
        self.state = after
        self.k.store(i_imp, noisy)
        self.k.cop[i_imp:i1] += resp_cop
        self.k.landing_acc[i_imp:i1] = resp_acc
        vert = self.k.vertical[i_imp:i1]
        acc_clean = self.body_specific_force(
            quiet.theta, quiet.omega, quiet.alpha, vert, translation=resp_acc
        )
        # The transients as the method sees them: through its low-pass (SETTLING_DEFINITION).
        acc_clean = self.seen_acc(acc_clean[:, :2])
        cop_clean = self.seen_cop(quiet.cop + resp_cop)
        ref_acc, ref_cop = self.quiet_band(cond)
        band_acc, band_cop = ref_acc.band, ref_cop.band
        return Landing(
            impact_s=i_imp / self.fs,
            touchdown_speed_m_s=prof.touchdown_speed_m_s,
            peak_g=prof.peak_g,
            initial_tilt_rad=(float(tilt[0]), float(tilt[1])),
            initial_rate_rad_s=(float(rate[0]), float(rate[1])),
            settling_time_s=compute_settling_time(
                about_level(acc_clean, self.fs), self.fs, band_acc
            ),
            settling_time_cop_s=compute_settling_time(
                about_level(cop_clean, self.fs), self.fs, band_cop
            ),
            band_acc_ms2=band_acc,
            band_cop_m=band_cop,
            threshold_acc_ms2=ref_acc.threshold,
            threshold_cop_m=ref_cop.threshold,
            quiet_rms_acc_ms2=ref_acc.noise_rms,
            quiet_rms_cop_m=ref_cop.noise_rms,
            fs_hz=self.fs,
            noiseless_acc_ms2=acc_clean,
            noiseless_cop_m=cop_clean,
        )

    def quiet_band(self, cond: Condition) -> tuple[QuietBand, QuietBand]:
        """Settling bands (lower-back horizontal specific force, COP) of a stance condition.

        From QUIET_REFERENCE_S of noise-only quiet stance in that condition (same athlete, side,
        surface, vision; no landing transient), after QUIET_WARMUP_S from rest; cached per
        condition, drawn from its own random stream.
        """
        if cond not in self.quiet_bands:
            n = round((QUIET_WARMUP_S + QUIET_REFERENCE_S) * self.fs)
            scale = np.array([cond.ap.noise_rms_nm, cond.ml.noise_rms_nm])
            torque = unit_noise(self.quiet_rng, n, self.fs, self.ath) * scale
            drift = np.array([cond.ap.drift_rms_rad, cond.ml.drift_rms_rad])
            reference = unit_drift(self.quiet_rng, n, self.fs, self.ath) * drift
            trunk = unit_trunk(self.quiet_rng, n, self.fs, self.ath)
            trunk *= trunk_scale_ms2(self.ath, cond)
            r = simulate_stance(
                self.ath,
                condition=cond,
                support=Support.for_condition(self.ath, cond.single_leg),
                noise_nm=torque,
                fs=self.fs,
                state=StanceState(),
                forced_support=np.zeros(n, dtype=bool),
                touchdown_durations_s=[self.ath.touchdown_max_s] * 20,
                reference_rad=reference,
            )
            k = round(QUIET_WARMUP_S * self.fs)
            acc = self.body_specific_force(
                r.theta[k:], r.omega[k:], r.alpha[k:], np.zeros(n - k), translation=trunk[k:]
            )
            self.quiet_bands[cond] = (
                quiet_band(self.seen_acc(acc[:, :2]), self.fs),
                quiet_band(self.seen_cop(r.cop[k:]), self.fs),
            )
        return self.quiet_bands[cond]

    def seen_acc(self, acc_ms2: FloatArray) -> FloatArray:
        """Horizontal lower-back acceleration (m/s^2) through the TTS method's low-pass."""
        return lowpass(acc_ms2, self.fs, SETTLING_ACC_CUTOFF_HZ, SETTLING_FILTER_ORDER)

    def seen_cop(self, cop_m: FloatArray) -> FloatArray:
        """COP (m) through the TTS method's low-pass."""
        return lowpass(cop_m, self.fs, SETTLING_COP_CUTOFF_HZ, SETTLING_FILTER_ORDER)

    def body_specific_force(
        self,
        theta: FloatArray,
        omega: FloatArray,
        alpha: FloatArray,
        vertical: FloatArray,
        translation: FloatArray | None = None,
    ) -> FloatArray:
        """Segment-frame specific force (m/s^2) at the lower-back height."""
        f, _ = segment_signals(
            self.h_lowback,
            theta=theta,
            omega=omega,
            alpha=alpha,
            vertical=vertical,
            translation=translation,
        )
        return f

    def run(self) -> None:
        sc = self.sc
        t = sc.lead_in_s
        self.rest(0, self.idx(t), release_board=False)
        prev_board = False
        for spec in sc.trials:
            i0, i1 = self.idx(t), self.idx(t + spec.duration_s)
            cond = condition_for(self.ath, spec.trial_type, spec.side, spec.surface, spec.vision)
            self.k.stance_ml[i0:i1] = _stance_offset(spec.side)
            landing = None
            if spec.is_landing:
                if spec.surface is Surface.WOBBLE_BOARD:
                    raise SimulationError("landings on the wobble board are not simulated")
                landing = self.landing(spec, i0, i1, cond)
            else:
                self.hold(spec, i0, i1, cond)
            self.trials.append(self.trial_truth(spec, i0, i1, cond, landing))
            prev_board = spec.surface is Surface.WOBBLE_BOARD
            t += spec.duration_s + spec.rest_after_s
            end = self.idx(t) if spec is not sc.trials[-1] else self.n
            self.rest(i1, end, release_board=prev_board)

    def trial_truth(
        self, spec: TrialSpec, i0: int, i1: int, cond: Condition, landing: Landing | None
    ) -> TrialTruth:
        fs = self.fs
        tds = []
        forced_starts = {self.idx(t) + i0 for t in spec.touchdowns_s}
        for s, e in true_runs(self.k.support[i0:i1]):
            kind = "scripted" if s + i0 in forced_starts else "emergent"
            tds.append(TouchdownTruth((i0 + s) / fs, (i0 + e) / fs, kind))
            bump = touchdown_bump(fs)[: i1 - (i0 + s)]
            self.k.vertical[i0 + s : i0 + s + bump.size] += bump
        edges = []
        for s, e in true_runs(self.k.edge[i0:i1]):
            rate = float(np.linalg.norm(self.k.phi_rate[i0 + s - 1])) if s > 0 else 0.0
            b = self.board
            peak = b.impact_gain_per_s * rate * b.edge_radius_m
            spike = edge_impact_spike(fs, peak, b.impact_ring_hz, b.impact_decay_s)
            spike = spike[: self.n - (i0 + s)]
            u = self.k.phi[i0 + s] / max(1e-12, float(np.linalg.norm(self.k.phi[i0 + s])))
            direction = np.array([0.3 * u[0], 0.3 * u[1], 1.0])
            self.k.board_spike[i0 + s : i0 + s + spike.size] += spike[:, None] * direction
            edges.append(EdgeContact((i0 + s) / fs, (i0 + e) / fs, rate, peak))
        outcome = Outcome.TOUCHDOWN if tds or edges else Outcome.COMPLETED
        trial = Trial(
            i0 / fs,
            spec.duration_s,
            spec.trial_type,
            spec.side,
            spec.surface,
            spec.vision,
            outcome,
        )
        return TrialTruth(trial, cond, tuple(tds), tuple(edges), spec.lapses_s, landing)


def _stance_offset(side: Side) -> float:
    """ML position of the stance ankle from the mid-point between the feet (m, left +)."""
    return {Side.LEFT: STANCE_HALF_WIDTH_M, Side.RIGHT: -STANCE_HALF_WIDTH_M}.get(side, 0.0)


def simulate_session(
    scenario: Scenario | str,
    athlete: AthleteParams | None = None,
    sensors: Sequence[SensorSpec] | None = None,
    seed: int = 0,
    *,
    board: BoardParams | None = None,
    foam: FoamParams | None = None,
    internal_fs_hz: float = 1000.0,
    athlete_label: str = "sim01",
    start_utc: datetime | None = None,
) -> tuple[Session, Truth]:
    """Simulate one session: one Recording per sensor (SI units) and the Truth. Seeded.

    `scenario` is a Scenario or a built-in name (see list_scenarios); `sensors` default to the
    scenario's. The same arguments always give the same session, bit for bit.
    """
    if seed < 0:
        raise SimulationError(f"seed must be a whole number >= 0, got {seed}")
    sc = get_scenario(scenario) if isinstance(scenario, str) else scenario
    ath = athlete or AthleteParams()
    specs = tuple(sensors) if sensors is not None else sc.sensors
    if not specs:
        raise SimulationError("simulate_session needs at least one sensor")
    if not internal_fs_hz >= 200 or internal_fs_hz % TRUTH_FS_HZ:
        raise SimulationError(
            f"internal_fs_hz must be a multiple of {TRUTH_FS_HZ:g} Hz, got {internal_fs_hz}"
        )
    lowback = next(
        (s.height_ratio for s in specs if isinstance(s, ImuSpec) and s.tracked_point == "lowback"),
        ImuSpec("x", "lowback").height_ratio,
    )
    sim = _Simulator(
        sc,
        athlete=ath,
        board=board or BoardParams(),
        foam=foam or FoamParams(),
        seed=seed,
        fs=internal_fs_hz,
        lowback_height_ratio=lowback,
    )
    sim.run()
    trials = tuple(t.trial for t in sim.trials)
    start = start_utc or datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
    recordings, sensor_truths = record_sensors(
        sim.k,
        internal_fs_hz,
        specs,
        sim.sensor_ss,
        board=sim.board,
        height_m=ath.height_m,
        mass_kg=ath.mass_kg,
        header=RecordingHeader(athlete_label, start, sc.task, trials),
    )
    series = sample_body_series(sim.k, internal_fs_hz, com_height_m=ath.com_height_m)
    sides = {str(s): ath.side_factor(s) for s in (Side.LEFT, Side.RIGHT)}
    truth_all = Truth(
        seed=seed,
        scenario=sc.name,
        athlete=ath,
        board=sim.board,
        internal_fs_hz=internal_fs_hz,
        trials=tuple(sim.trials),
        sensors=tuple(sensor_truths),
        series=series,
        side_factors=sides,
    )
    return Session(tuple(recordings)), truth_all

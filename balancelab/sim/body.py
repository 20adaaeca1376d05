"""The body: two inverted pendulums (AP, ML) with delayed PID feedback, integrated at a fixed rate.

Per axis (Peterka 2002; Maurer & Peterka 2005), theta the body tilt about the ankle (rad, AP
positive forward, ML positive to the left), T the ankle torque (N m):

    J theta'' = m g h theta - T - S
    T = clip(Kp e(t-tau) + Kd e'(t-tau) + Ki int e + Kb-terms + T_noise,  m g x COP limits)
    e = sensed tilt - r(t),  r the slowly wandering reference ("rambling", Zatsiorsky & Duarte
        1999, Motor Control 3:28: the COP trembles about a reference point that migrates)
    COP = T / (m g)   (m from the ankle; foot mass neglected: COP - COM = -J theta''/(m g))

e is the sensed tilt (theta, or theta - w_p psi on foam); S is the support torque of the free
foot during a touch-down (no delay: S = Ks theta + Bs theta'). T_noise is motor noise, so it
acts through the foot and shows in the COP. Semi-implicit (symplectic) Euler at `fs` (default
1 kHz); the delay is a whole number of steps. The loop is plain Python on floats: O(n), about
1 us per axis-step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from balancelab.model import FloatArray
from balancelab.sim.athlete import AthleteParams, Condition, G
from balancelab.sim.board import BoardParams, FoamParams

# Free-foot support during a touch-down, in multiples of m g h (per rad) and m g h s: stiff and
# close to critically damped, so the sway collapses within ~0.3 s (our choice).
SUPPORT_STIFFNESS_RATIO = 8.0
SUPPORT_DAMPING_RATIO_S = 1.5
# After a touch-down ends, no new emergent touch-down for this long (s).
TOUCHDOWN_REFRACTORY_S = 0.5


@dataclass
class StanceState:
    """The mechanical state carried from one segment to the next (rad, rad/s, rad s)."""

    theta: list[float] = field(default_factory=lambda: [0.0, 0.0])
    omega: list[float] = field(default_factory=lambda: [0.0, 0.0])
    integral: list[float] = field(default_factory=lambda: [0.0, 0.0])
    psi: list[float] = field(default_factory=lambda: [0.0, 0.0])
    phi: list[float] = field(default_factory=lambda: [0.0, 0.0])
    phi_rate: list[float] = field(default_factory=lambda: [0.0, 0.0])


@dataclass(frozen=True)
class Support:
    """COP limits of the stance foot or feet (m from the ankle) and the touch-down rule."""

    cop_ap: tuple[float, float]
    cop_ml: tuple[float, float]
    recoverable_fraction: float
    emergent_touchdowns: bool

    @classmethod
    def for_condition(cls, athlete: AthleteParams, single_leg: bool) -> Support:
        """A single foot (touch-downs possible) or both feet (wide ML base, none)."""
        if single_leg:
            w = athlete.foot_half_width_m
            return cls(
                (-athlete.foot_heel_m, athlete.foot_toe_m),
                (-w, w),
                athlete.recoverable_fraction,
                True,
            )
        return cls((-athlete.foot_heel_m, athlete.foot_toe_m), (-0.12, 0.12), 1.0, False)


@dataclass(frozen=True)
class StanceResult:
    """Arrays at the integration rate, shape (n, 2) with columns (AP, ML) unless noted.

    theta rad, omega rad/s, alpha rad/s^2 (body tilt); cop m from the ankle (x AP, y ML);
    phi, phi_rate, phi_acc (board tilt, rad...); support (n,) bool: free foot down;
    edge (n,) bool: board edge on the floor; touchdown_starts: step indices of emergent
    touch-downs; impacts: (step index, radial tilt rate rad/s) of edge impacts.
    """

    theta: FloatArray
    omega: FloatArray
    alpha: FloatArray
    cop: FloatArray
    phi: FloatArray
    phi_rate: FloatArray
    phi_acc: FloatArray
    support: NDArrayBool
    edge: NDArrayBool
    touchdown_starts: list[int]
    impacts: list[tuple[int, float]]


NDArrayBool = np.ndarray[tuple[int], np.dtype[np.bool_]]


def simulate_stance(  # noqa: PLR0915 (one tight loop, kept inline for speed)
    athlete: AthleteParams,
    *,
    condition: Condition,
    support: Support,
    noise_nm: FloatArray,
    fs: float,
    state: StanceState,
    forced_support: NDArrayBool,
    touchdown_durations_s: list[float],
    board: BoardParams | None = None,
    foam: FoamParams | None = None,
    reference_rad: FloatArray | None = None,
) -> StanceResult:
    """Integrate one stance segment of n = len(noise_nm) steps at `fs` (Hz); updates `state`.

    `noise_nm` (n, 2) is the motor-noise torque (N m); `forced_support` (n,) marks scripted
    touch-downs; `touchdown_durations_s` supplies the durations of emergent ones, in order;
    `reference_rad` (n, 2) is the controller's wandering reference tilt (zero if None).
    """
    n = int(noise_nm.shape[0])
    dt = 1.0 / fs
    d = max(1, round(condition.delay_s * fs))
    m = athlete.mass_kg
    mg = m * G
    mgh = athlete.gravity_stiffness
    inv_j = 1.0 / athlete.inertia_kg_m2
    h = athlete.com_height_m
    ks = SUPPORT_STIFFNESS_RATIO * mgh
    bs = SUPPORT_DAMPING_RATIO_S * mgh
    axes = (condition.ap, condition.ml)
    kp = [a.kp for a in axes]
    kd = [a.kd for a in axes]
    ki = [a.ki for a in axes]
    lo = [support.cop_ap[0] * mg, support.cop_ml[0] * mg]
    hi = [support.cop_ap[1] * mg, support.cop_ml[1] * mg]
    com_lo = [support.cop_ap[0] * support.recoverable_fraction, support.cop_ml[0]]
    com_hi = [support.cop_ap[1] * support.recoverable_fraction, support.cop_ml[1]]
    com_lo[1] *= support.recoverable_fraction
    com_hi[1] *= support.recoverable_fraction
    # Foam (series compliance) and board, as zero terms when absent.
    if foam is not None:
        kf = foam.stiffness_ratio * mgh
        inv_cf = 1.0 / (foam.damping_ratio_s * mgh)
        wp = foam.proprio_weight
    else:
        kf, inv_cf, wp = 0.0, 0.0, 0.0
    if board is not None:
        kb = board.geometric_stiffness(m, G)
        cb = board.damping(m, G)
        inv_jb = 1.0 / board.inertia_kg_m2
        kpb = board.control_stiffness_ratio * kb
        kdb = board.control_damping_ratio_s * kb
        phi_max = board.max_tilt_rad
        edge_hold = max(1, round(board.edge_recovery_s * fs))
    else:
        edge_hold = 0
        kb = cb = inv_jb = kpb = kdb = 0.0
        phi_max = np.inf
    has_board = board is not None

    th = list(state.theta)
    om = list(state.omega)
    integ = list(state.integral)
    psi = list(state.psi)
    ph = list(state.phi) if has_board else [0.0, 0.0]
    phr = list(state.phi_rate) if has_board else [0.0, 0.0]
    # Delay lines: sensed tilt and rate, board tilt and rate; prefilled with the current state.
    est = [[th[a] - wp * psi[a]] * d + [0.0] * n for a in (0, 1)]
    estv = [[om[a]] * d + [0.0] * n for a in (0, 1)]
    bph = [[ph[a]] * d + [0.0] * n for a in (0, 1)]
    bphr = [[phr[a]] * d + [0.0] * n for a in (0, 1)]
    out_th = [[0.0] * n, [0.0] * n]
    out_om = [[0.0] * n, [0.0] * n]
    out_al = [[0.0] * n, [0.0] * n]
    out_t = [[0.0] * n, [0.0] * n]
    out_pa = [[0.0] * n, [0.0] * n]
    sup_out = [False] * n
    edge_out = [False] * n
    noise = [noise_nm[:, 0].tolist(), noise_nm[:, 1].tolist()]
    ref = np.zeros((n, 2)) if reference_rad is None else reference_rad
    refs = [ref[:, 0].tolist(), ref[:, 1].tolist()]
    forced = forced_support.tolist()
    durations = list(touchdown_durations_s)
    refractory = round(TOUCHDOWN_REFRACTORY_S * fs)
    td_left = 0  # steps left in an emergent touch-down
    td_blocked = 0  # refractory steps left
    td_starts: list[int] = []
    impacts: list[tuple[int, float]] = []
    in_contact = False
    edge_left = 0  # steps the edge stays down after an impact

    for i in range(n):
        on = forced[i] or td_left > 0
        for a in (0, 1):
            e = est[a][i] - refs[a][i]
            ev = estv[a][i]
            integ[a] += e * dt
            t = kp[a] * e + kd[a] * ev + ki[a] * integ[a] + noise[a][i]
            if has_board:
                t -= kpb * bph[a][i] + kdb * bphr[a][i]
            t = lo[a] if t < lo[a] else (hi[a] if t > hi[a] else t)
            s = ks * th[a] + bs * om[a] if on else 0.0
            acc = (mgh * th[a] - t - s) * inv_j
            om[a] += acc * dt
            th[a] += om[a] * dt
            if foam is not None:
                dpsi = (t - kf * psi[a]) * inv_cf
                psi[a] += dpsi * dt
                est[a][i + d] = th[a] - wp * psi[a]
                estv[a][i + d] = om[a]
            else:
                est[a][i + d] = th[a]
                estv[a][i + d] = om[a]
            if has_board:
                pacc = (t - kb * ph[a] - cb * phr[a]) * inv_jb
                phr[a] += pacc * dt
                ph[a] += phr[a] * dt
                out_pa[a][i] = pacc
            out_th[a][i] = th[a]
            out_om[a][i] = om[a]
            out_al[a][i] = acc
            out_t[a][i] = t
        if has_board:
            mag2 = ph[0] * ph[0] + ph[1] * ph[1]
            holding = edge_left > 0  # the athlete's weight keeps the edge down
            if holding:
                edge_left -= 1
            if mag2 >= phi_max * phi_max or (holding and mag2 > 0.0):
                mag = mag2**0.5
                u0, u1 = ph[0] / mag, ph[1] / mag
                vr = phr[0] * u0 + phr[1] * u1
                if vr > 0.0:
                    phr[0] -= vr * u0
                    phr[1] -= vr * u1
                    if not in_contact:
                        impacts.append((i, vr))
                        edge_left = edge_hold
                if holding:  # the loaded edge neither lifts nor slides round the rim
                    phr[0] = phr[1] = 0.0
                ph[0], ph[1] = phi_max * u0, phi_max * u1
                out_pa[0][i] = 0.0
                out_pa[1][i] = 0.0
                in_contact = True
                edge_out[i] = True
            else:
                in_contact = False
            for a in (0, 1):
                bph[a][i + d] = ph[a]
                bphr[a][i + d] = phr[a]
                out_th[a][i] = th[a]
        # Touch-downs: emergent when the COM leaves the recoverable part of the foot.
        if td_left > 0:
            td_left -= 1
            if td_left == 0:
                td_blocked = refractory
        elif td_blocked > 0:
            td_blocked -= 1
        elif support.emergent_touchdowns and not forced[i]:
            xa, xm = h * th[0], h * th[1]
            if xa < com_lo[0] or xa > com_hi[0] or xm < com_lo[1] or xm > com_hi[1]:
                dur = durations.pop(0) if durations else 0.5
                td_left = max(1, round(dur * fs))
                td_starts.append(i)
        sup_out[i] = on
        edge_out[i] = edge_out[i] and has_board

    state.theta, state.omega, state.integral, state.psi = th, om, integ, psi
    if has_board:
        state.phi, state.phi_rate = ph, phr
    arr = np.asarray
    phi = np.zeros((n, 2))
    phi_rate = np.zeros((n, 2))
    if has_board:
        phi = arr([bph[0][d:], bph[1][d:]]).T
        phi_rate = arr([bphr[0][d:], bphr[1][d:]]).T
    return StanceResult(
        theta=arr(out_th).T,
        omega=arr(out_om).T,
        alpha=arr(out_al).T,
        cop=arr(out_t).T / mg,
        phi=phi,
        phi_rate=phi_rate,
        phi_acc=arr(out_pa).T,
        support=np.asarray(sup_out, dtype=bool),
        edge=np.asarray(edge_out, dtype=bool),
        touchdown_starts=td_starts,
        impacts=impacts,
    )

"""`interval_90` of a moving-RMS TTS: a block bootstrap of the threshold and of the crossing.

A landing's TTS is uncertain for two reasons (science/METRICS.md, `tts`):
- the threshold: the quiet reference is a sample of sway. Its moving RMS is cut into `block_s`
  blocks (within its pieces; neighbouring windows of slow sway are alike, so blocks, not
  samples, are drawn); each replicate draws as many blocks with replacement and takes
  mean + k_sd·SD of what it drew.
- the crossing: the landing's trace is the transient plus sway, and when its moving RMS falls
  below the threshold depends on the sway of that moment, through the sway's own power and its
  product with the transient. Each replicate draws other sway r (blocks of the reference's
  traces laid end to end) and moves the landing's moving mean square m by what r would change:
  its power about the reference's mean power μ, plus twice its product with the transient,
  taken as the landing's trace scaled to the transient's share of its power, √(max(m − μ, 0)/m)
  (the settled landing has no transient left: its own sway times r is not counted, as it would
  double the sway's fluctuation and invent late excursions).
Each replicate's TTS follows the caller's rule; the interval is the 5th and 95th percentile over
the replicates, a never-stabilized replicate counting as +inf (so `high` is None when more than
5 % never stabilize). The generator is seeded from the samples themselves: the same data give the
same interval, and no global random state is used.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence

import numpy as np

from balancelab.model import FloatArray, Interval

METHOD = "block_bootstrap"
DEFAULT_REPLICATES = 100
DEFAULT_BLOCK_S = 0.5
LEVEL = 0.90

# The TTS rule on rows of moving RMS, each against its own threshold: s, or None (never settled).
Crossing = Callable[[FloatArray, FloatArray], list[float | None]]


def _blocks(pieces: Sequence[FloatArray], n: int) -> list[FloatArray]:
    """Consecutive blocks of `n` samples of every piece (a piece's remainder is a shorter block)."""
    return [p[i : i + n] for p in pieces for i in range(0, p.size, n) if p[i : i + n].size]


def _seed(envelope: FloatArray, pieces: Sequence[FloatArray]) -> int:
    digest = hashlib.blake2b(envelope.tobytes(), digest_size=8)
    for p in pieces:
        digest.update(p.tobytes())
    return int.from_bytes(digest.digest(), "little")


def _thresholds(
    blocks: Sequence[FloatArray], k_sd: float, rng: np.random.Generator, replicates: int
) -> FloatArray:
    """mean + k_sd·SD of the moving RMS, per replicate of drawn blocks (unit of the trace)."""
    counts = np.array([b.size for b in blocks], dtype=np.float64)
    starts = np.concatenate([[0], np.cumsum(counts[:-1])]).astype(np.intp)
    values = np.concatenate(blocks)
    sums, squares = np.add.reduceat(values, starts), np.add.reduceat(values * values, starts)
    drawn = rng.integers(0, len(blocks), (replicates, len(blocks)))
    n, s1, s2 = counts[drawn].sum(axis=1), sums[drawn].sum(axis=1), squares[drawn].sum(axis=1)
    mean = s1 / n
    var = np.maximum(s2 - n * mean**2, 0.0) / np.maximum(n - 1, 1)
    return np.asarray(mean + k_sd * np.sqrt(var), dtype=np.float64)


def _sway(
    traces: Sequence[FloatArray], n: int, size: int, rng: np.random.Generator, replicates: int
) -> FloatArray:
    """(replicates, n, columns): reference sway in drawn blocks of `size` samples, end to end."""
    columns = [t.reshape(t.shape[0], -1) for t in traces]
    whole = [c[i : i + size] for c in columns for i in range(0, c.shape[0] - size + 1, size)]
    if not whole:
        whole = [max(columns, key=len)]
        size = whole[0].shape[0]
    stacked = np.stack(whole)
    drawn = rng.integers(0, len(whole), (replicates, math.ceil(n / size)))
    series = stacked[drawn].reshape(replicates, -1, stacked.shape[2])[:, :n]
    return np.asarray(series, dtype=np.float64)


def _moving_mean(values: FloatArray, half: int) -> FloatArray:
    """Centred moving mean along the last axis, windows of 2·half + 1 samples truncated at the
    ends (the windows of stabilization.moving_rms)."""
    n = values.shape[-1]
    zeros = np.zeros((*values.shape[:-1], 1))
    cumulative = np.concatenate([zeros, np.cumsum(values, axis=-1)], axis=-1)
    index = np.arange(n)
    low, high = np.clip(index - half, 0, n), np.clip(index + half + 1, 0, n)
    return np.asarray((cumulative[..., high] - cumulative[..., low]) / (high - low))


def interval_90(
    landing: FloatArray,
    *,
    n_judged: int,
    reference: Sequence[FloatArray],
    envelopes: Sequence[FloatArray],
    fs: float,
    crossing: Crossing,
    window_s: float,
    k_sd: float,
    replicates: int = DEFAULT_REPLICATES,
    block_s: float = DEFAULT_BLOCK_S,
) -> Interval | None:
    """90 % interval (s) of the TTS of `landing` (its trace about its stable level).

    `reference`: the reference's pieces about their level; `envelopes`: their moving RMS (whole
    windows); `crossing(envelope, threshold)` is the TTS rule on the first `n_judged` samples of
    a moving RMS (s, None if never settled). None when the reference has no block.
    """
    size = max(1, round(block_s * fs))
    blocks = _blocks(envelopes, size)
    if not blocks:
        return None
    rng = np.random.default_rng(_seed(landing, reference))
    thresholds = _thresholds(blocks, k_sd, rng, replicates)
    sway = _sway(reference, landing.shape[0], size, rng, replicates)
    mean_power = float(np.mean(np.concatenate(envelopes) ** 2))
    half = max(1, round(window_s * fs / 2))
    x = landing.reshape(landing.shape[0], -1)
    power = _moving_mean(np.sum(x * x, axis=1), half)[:n_judged]
    transient_share = np.sqrt(np.maximum(power - mean_power, 0.0) / np.maximum(power, 1e-300))
    product = _moving_mean(np.einsum("nc,rnc->rn", x, sway), half)[:, :n_judged]
    sway_power = _moving_mean(np.einsum("rnc,rnc->rn", sway, sway), half)[:, :n_judged]
    moved = power + 2 * transient_share * product + sway_power - mean_power
    perturbed = np.sqrt(np.maximum(moved, 0.0))
    times = np.array([math.inf if t is None else t for t in crossing(perturbed, thresholds)])
    tail = (1.0 - LEVEL) / 2
    low, high = np.quantile(times, [tail, 1.0 - tail], method="inverted_cdf")
    if not math.isfinite(low):
        return None
    return float(low), float(high) if math.isfinite(high) else None

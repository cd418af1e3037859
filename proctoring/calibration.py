"""Distance thresholds from a target false-accept rate, measured on impostor pairs.

Two registration photos of two different physicians are, by construction, a pair of
different people from exactly the population being examined. Their distances (the
*impostor distribution*) say which distance threshold lets a given share of impostors
through. A rate measured on n pairs is uncertain, so the threshold is the largest one
whose **one-sided Clopper–Pearson upper bound** on the FAR is within the target: with
k impostors accepted out of n, we claim "FAR ≤ target with 95 % confidence". With no
accepts the bound is about 3/n (the *rule of three*): claiming 0.1 % needs at least
2,995 pairs, 1 % at least 299 (``pairs_needed``); more pairs let the threshold sit
closer to the true quantile.

Pure numpy and the standard library: no Flask, no database.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

CONFIDENCE = 0.95
MAX_PAIRS = 200_000  # a sample this size bounds 0.1 % to within ~0.02 % (see the docs)


class NotEnoughPairs(ValueError):
    """Too few impostor pairs to claim the target rate at the confidence asked for."""

    def __init__(self, target_far: float, pairs: int, needed: int) -> None:
        super().__init__(f"{pairs} pairs cannot bound FAR ≤ {target_far:g}: at least {needed}")
        self.target_far, self.pairs, self.needed = target_far, pairs, needed

    def __reduce__(self) -> tuple[Any, ...]:  # crosses a process pool
        return (NotEnoughPairs, (self.target_far, self.pairs, self.needed))


def _log_binom_cdf(k: int, n: int, p: float) -> float:
    """log P(X ≤ k) for X ~ Binomial(n, p): the log-pmf terms by their ratio recurrence,
    summed in log space (vectorised: k runs to thousands for a 5 % target)."""
    if k < 0:
        return -math.inf
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 0.0 if k >= n else -math.inf
    log_p, log_q = math.log(p), math.log1p(-p)
    i = np.arange(min(k, n), dtype=np.float64)
    steps = np.log(n - i) - np.log(i + 1) + (log_p - log_q)
    terms = n * log_q + np.concatenate(([0.0], np.cumsum(steps)))
    top = float(terms.max())
    return top + math.log(float(np.exp(terms - top).sum()))


def far_upper_bound(accepts: int, pairs: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper–Pearson upper bound on a rate after ``accepts`` in ``pairs``:
    the p at which seeing ≤ ``accepts`` would have had probability 1 − confidence."""
    if pairs <= 0:
        return 1.0
    if accepts >= pairs:
        return 1.0
    if accepts == 0:  # closed form: (1 - p)^n = alpha
        return 1.0 - (1.0 - confidence) ** (1.0 / pairs)
    target = math.log(1.0 - confidence)
    low, high = accepts / pairs, 1.0
    for _ in range(80):
        middle = (low + high) / 2
        if _log_binom_cdf(accepts, pairs, middle) > target:
            low = middle
        else:
            high = middle
    return high


def pairs_needed(target_far: float, confidence: float = CONFIDENCE, accepts: int = 0) -> int:
    """The fewest pairs with which ``accepts`` observed accepts still bound FAR ≤ target."""
    if accepts == 0:
        return math.ceil(math.log(1.0 - confidence) / math.log1p(-target_far))
    low, high = accepts + 1, max(accepts + 2, int(10 * (accepts + 3) / target_far))
    while low < high:
        middle = (low + high) // 2
        if far_upper_bound(accepts, middle, confidence) <= target_far:
            high = middle
        else:
            low = middle + 1
    return low


@dataclass(frozen=True)
class FarThreshold:
    """A distance threshold chosen for a target FAR, with what backs the claim."""

    target_far: float
    distance: float  # accept when distance ≤ this
    pairs: int  # impostor pairs measured
    accepts: int  # of them at or below ``distance``
    observed_far: float
    far_upper: float  # one-sided upper confidence bound on the FAR at ``distance``
    confidence: float
    quantile: float  # the plain empirical quantile at the target (for comparison)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _floor4(value: float) -> float:
    return math.floor(value * 10_000) / 10_000


def threshold_for_far(
    impostor: np.ndarray | list[float], target_far: float, confidence: float = CONFIDENCE
) -> FarThreshold:
    """The largest distance threshold (4 decimals) whose FAR, measured on these impostor
    distances, has an upper confidence bound ≤ ``target_far``."""
    if not 0 < target_far < 1:
        raise ValueError("the target FAR is a rate between 0 and 1")
    ordered = np.sort(np.asarray(impostor, dtype=float))
    n = int(ordered.size)
    needed = pairs_needed(target_far, confidence)
    if n < needed:
        raise NotEnoughPairs(target_far, n, needed)
    # The upper bound grows with k: find the largest k accepts it allows.
    low, high = 0, min(n - 1, int(target_far * n))
    while low < high:
        middle = (low + high + 1) // 2
        if far_upper_bound(middle, n, confidence) <= target_far:
            low = middle
        else:
            high = middle - 1
    # Threshold strictly below the (k+1)-th smallest impostor distance: at most k accepted.
    distance = _floor4(float(ordered[low]))
    if distance >= ordered[low]:
        distance = round(distance - 0.0001, 4)
    accepts = int(np.searchsorted(ordered, distance, side="right"))
    quantile = float(np.quantile(ordered, target_far, method="inverted_cdf"))
    return FarThreshold(
        target_far=target_far,
        distance=distance,
        pairs=n,
        accepts=accepts,
        observed_far=accepts / n,
        far_upper=far_upper_bound(accepts, n, confidence),
        confidence=confidence,
        quantile=round(quantile, 4),
    )


# --- pairs of a roster ------------------------------------------------------------------


def sample_pairs(
    count: int, max_pairs: int = MAX_PAIRS, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of ``count`` items: all of them when there are at most
    ``max_pairs``, else ``max_pairs`` distinct pairs drawn uniformly at random."""
    total = count * (count - 1) // 2
    if total <= max_pairs:
        i, j = np.triu_indices(count, k=1)
        return i.astype(np.int64), j.astype(np.int64)
    rng = rng or np.random.default_rng()
    chosen = np.empty(0, dtype=np.int64)
    while chosen.size < max_pairs:
        draw = int((max_pairs - chosen.size) * 1.1) + 16
        a = rng.integers(0, count, draw, dtype=np.int64)
        b = rng.integers(0, count, draw, dtype=np.int64)
        keep = a != b
        low, high = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
        chosen = np.unique(np.concatenate([chosen, low * count + high]))
    chosen = rng.permutation(chosen)[:max_pairs]
    return chosen // count, chosen % count


def pair_distances(
    encodings: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int = 65_536
) -> np.ndarray:
    """Euclidean distances of the encoding pairs (i[k], j[k]), vectorised in chunks."""
    out = np.empty(i.size, dtype=np.float64)
    for start in range(0, i.size, chunk):
        stop = start + chunk
        diff = encodings[i[start:stop]] - encodings[j[start:stop]]
        out[start:stop] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def summary(distances: np.ndarray) -> dict[str, float | int]:
    """What a calibration keeps of the impostor distribution."""
    d = np.asarray(distances, dtype=float)
    if d.size == 0:
        return {"count": 0}
    q = np.quantile(d, [0.001, 0.01, 0.05, 0.5])
    return {
        "count": int(d.size),
        "min": round(float(d.min()), 4),
        "q0_1": round(float(q[0]), 4),
        "q1": round(float(q[1]), 4),
        "q5": round(float(q[2]), 4),
        "median": round(float(q[3]), 4),
        "mean": round(float(d.mean()), 4),
        "max": round(float(d.max()), 4),
    }


@dataclass(frozen=True)
class RosterCalibration:
    """Entry and continuity thresholds from a roster's impostor pairs."""

    people: int
    pairs: int
    all_pairs: bool  # every pair was measured (else a random sample)
    entry_accept: FarThreshold  # the strict threshold (the lower target FAR)
    entry_reject: FarThreshold  # the loose one (the higher target FAR)
    continuity_accept: FarThreshold | None  # None: too few pairs for target / frames
    continuity_reject: FarThreshold | None
    enrolled_frames: int
    impostor: dict[str, float | int]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibrate(
    encodings: np.ndarray,
    *,
    strict_far: float = 0.001,
    loose_far: float = 0.05,
    enrolled_frames: int = 5,
    max_pairs: int = MAX_PAIRS,
    confidence: float = CONFIDENCE,
    rng: np.random.Generator | None = None,
) -> RosterCalibration:
    """Thresholds from the registration encodings of different people (one row each).

    Entry compares the median of a few frames with one photo, which the bench shows to
    accept no more impostors than one photo against one photo: its thresholds are the
    impostor distribution's at the two target rates. A snapshot is compared with each of
    up to ``enrolled_frames`` frames enrolled at entry and the closest counts, so its
    thresholds are set for the target divided by that number (the union bound); when the
    sample is too small for those rates they are left out (the defaults stay).
    Raises ``NotEnoughPairs`` when the sample cannot support the entry targets."""
    if not 0 < strict_far <= loose_far < 1:
        raise ValueError("the strict target FAR must be > 0 and ≤ the loose one")
    matrix = np.asarray(encodings, dtype=np.float64)
    people = int(matrix.shape[0])
    i, j = sample_pairs(people, max_pairs, rng)
    distances = pair_distances(matrix, i, j)
    m = max(1, enrolled_frames)
    return RosterCalibration(
        people=people,
        pairs=int(distances.size),
        all_pairs=distances.size == people * (people - 1) // 2,
        entry_accept=threshold_for_far(distances, strict_far, confidence),
        entry_reject=threshold_for_far(distances, loose_far, confidence),
        continuity_accept=_optional(distances, strict_far / m, confidence),
        continuity_reject=_optional(distances, loose_far / m, confidence),
        enrolled_frames=m,
        impostor=summary(distances),
    )


def _optional(distances: np.ndarray, target: float, confidence: float) -> FarThreshold | None:
    try:
        return threshold_for_far(distances, target, confidence)
    except NotEnoughPairs:
        return None


def genuine_rates(
    distances: list[float] | np.ndarray, accept: float, reject: float
) -> dict[str, float | int | None]:
    """What confirmed same-person entries imply: the share that went to review (FRR at
    the strict threshold) and that was refused (FRR at the loose one)."""
    d = np.asarray(distances, dtype=float)
    if d.size == 0:
        return {"count": 0, "frr_strict": None, "frr_loose": None}
    return {
        "count": int(d.size),
        "frr_strict": float((d > accept).mean()),
        "frr_loose": float((d > reject).mean()),
    }

"""California Proposition 99: SDID, SC and DiD of Arkhangelsky et al. (2021), Table 1.

The reference numbers are ``synthdid`` 0.0.9's own (``reference_*.csv`` in
``reference/california_prop99``): the point estimates and weights are deterministic; the placebo
standard errors were computed with ``set.seed(12345)`` before each ``vcov(method = "placebo")``
with 200 replications. :class:`RSample` replays R's random numbers (``set.seed`` and ``sample``
with R's default Mersenne-Twister and rejection sampling), so the placebo standard errors are
replicated draw for draw rather than to within Monte Carlo error.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pandas as pd

from evaluate.verify.core import Check, reference_dir, replication

__all__ = ["RSample", "prop99_checks"]

SOURCE = "synthdid 0.0.9 (Arkhangelsky et al. 2021), reference_estimates_synthdid.csv"


class RSample:
    """R's ``set.seed(seed)`` followed by ``sample(1:n)`` calls, for replicating R code.

    R's default generator is the Mersenne Twister (the same as ``numpy.random.MT19937``) seeded
    by R's own scrambling (``RNG_Init`` in R's ``src/main/RNG.c``: 50 rounds of
    ``seed = 69069 seed + 1``, then one more round per word of state), with uniforms
    ``y * 2.3283064365386963e-10``; ``sample`` draws indices by rejection sampling from random
    bits (R >= 3.6.0, ``R_unif_index``) and removes each drawn element by swapping in the last.

    Parameters
    ----------
    seed
        The integer given to R's ``set.seed``.
    """

    def __init__(self, seed: int) -> None:
        s = int(seed) & 0xFFFFFFFF
        for _ in range(50):
            s = (69069 * s + 1) & 0xFFFFFFFF
        words = []
        for _ in range(625):  # the first word is the position, reset to 624 by R
            s = (69069 * s + 1) & 0xFFFFFFFF
            words.append(s)
        self.seed = int(seed)
        self._bits = np.random.MT19937()
        self._bits.state = {
            "bit_generator": "MT19937",
            "state": {"key": np.array(words[1:], dtype=np.uint32), "pos": 624},
        }

    def __repr__(self) -> str:
        return f"RSample({self.seed})"

    def unif_rand(self) -> float:
        """R's ``unif_rand()``: the next uniform in (0, 1)."""
        v = int(self._bits.random_raw()) * 2.3283064365386963e-10
        half = 0.5 * 2.328306437080797e-10
        if v <= 0.0:
            return half
        if 1.0 - v <= 0.0:
            return 1.0 - half
        return v

    def _index(self, n: int) -> int:
        bits = math.ceil(math.log2(n)) if n > 0 else 0
        while True:
            v, k = 0, 0
            while k <= bits:
                v = 65536 * v + math.floor(self.unif_rand() * 65536)
                k += 16
            dv = v & ((1 << bits) - 1)
            if dv < n:
                return dv

    def permutation(self, n: int) -> np.ndarray:
        """``sample(1:n) - 1``: a random ordering of ``0, ..., n - 1`` as R draws it."""
        pool = list(range(n))
        out = []
        m = n
        for _ in range(n):
            j = self._index(m)
            out.append(pool[j])
            m -= 1
            pool[j] = pool[m]
        return np.array(out, dtype=int)


@replication("prop99", "California Prop 99, synthetic DiD / synthetic control / DiD (synthdid)")
def prop99_checks() -> Iterator[Check]:
    """Estimates (1e-3 absolute), unit and time weights (1e-3 absolute) and placebo standard
    errors (1e-6 relative, R's own random draws replayed) against ``synthdid`` 0.0.9."""
    from evaluate.estimators.synth import synthetic_control
    from evaluate.estimators.synth_weights import Estimator

    folder = reference_dir() / "california_prop99"
    data = pd.read_csv(folder / "california_prop99.csv")
    ref = pd.read_csv(folder / "reference_estimates_synthdid.csv").set_index("estimator")
    omega_ref = {
        "sdid": pd.read_csv(folder / "reference_sdid_unit_weights.csv").set_index("state")["omega"],
        "sc": pd.read_csv(folder / "reference_sc_unit_weights.csv").set_index("state")["omega"],
    }
    lambda_ref = pd.read_csv(folder / "reference_sdid_time_weights.csv").set_index("year")["lambda"]
    estimators: tuple[Estimator, ...] = ("sdid", "sc", "did")
    for est in estimators:
        # set.seed(12345) before each vcov(method = "placebo"), 200 replications, as the reference
        result = synthetic_control(
            data, outcome="PacksPerCapita", treated_areas=["California"], start=1989, area="State",
            period="Year", estimator=est, n_placebo=200, seed=RSample(12345), leave_one_out=False,
        )
        row = result.estimates.set_index("estimand").loc["att"]
        yield Check("prop99", f"{est} estimate", ref.loc[est, "estimate"], row["estimate"], 1e-3, "absolute", SOURCE)
        yield Check("prop99", f"{est} placebo SE (R's draws, seed 12345)", ref.loc[est, "se_placebo_seed12345"],
                    row["std_error"], 1e-6, "relative", SOURCE)
        if est in omega_ref:
            ours = pd.Series(result.diagnostics["unit_weights"])
            theirs = omega_ref[est]
            yield from _weight_checks(f"{est} unit weight", theirs, ours)
        if est == "sdid":
            ours = pd.Series(result.diagnostics["time_weights"])
            ours.index = ours.index.astype(int)
            yield from _weight_checks("sdid time weight", lambda_ref, ours)


def _weight_checks(name: str, theirs: pd.Series, ours: pd.Series) -> Iterator[Check]:
    """One check per non-zero reference weight, and the largest gap over all of them."""
    source = f"synthdid 0.0.9, reference_{'sdid' if 'sdid' in name else 'sc'}_" + (
        "time_weights.csv" if "time" in name else "unit_weights.csv"
    )
    ours = ours.reindex(theirs.index)
    for key, w in theirs.items():
        if w > 0:
            yield Check("prop99", f"{name} {key}", float(w), float(ours[key]), 1e-3, "absolute", source)
    gap = float(np.nanmax(np.abs(ours.to_numpy(dtype=float) - theirs.to_numpy(dtype=float))))
    if ours.isna().any():
        gap = float("inf")
    yield Check("prop99", f"{name}s, max |diff| of {len(theirs)}", 0.0, gap, 1e-3, "absolute", source)

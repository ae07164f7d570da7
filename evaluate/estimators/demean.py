"""Two-way (unit and period) demeaning, the within transformation behind TWFE.

For a balanced panel the two-way within transformation has the closed form
:math:`\\ddot x_{it} = x_{it} - \\bar x_{i\\cdot} - \\bar x_{\\cdot t} + \\bar x`. For an
unbalanced panel it is computed by alternating projections (demean by unit, then by period,
until the change is below ``tol``), the method of Gaure (2013) used by ``fixest`` and
``reghdfe``. By the Frisch-Waugh-Lovell theorem, OLS of demeaned outcome on demeaned regressors
gives the TWFE coefficients.
"""

from __future__ import annotations

import numpy as np

__all__ = ["demean_two_way"]


def demean_two_way(
    values: np.ndarray,
    unit_codes: np.ndarray,
    time_codes: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    tol: float = 1e-12,
    max_iter: int = 10_000,
) -> np.ndarray:
    """Remove unit and period means from each column of ``values``.

    Parameters
    ----------
    values
        n x k (or n) array.
    unit_codes, time_codes
        Integer codes 0..G-1 and 0..T-1 of each row.
    weights
        Optional regression weights.
    tol, max_iter
        Convergence of the alternating projections (unbalanced panels only).

    Returns
    -------
    numpy.ndarray
        The demeaned values, same shape.
    """
    x = np.asarray(values, dtype=float)
    one_d = x.ndim == 1
    x = x.reshape(len(x), -1).copy()
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    n_units = int(unit_codes.max()) + 1
    n_times = int(time_codes.max()) + 1
    wu = np.bincount(unit_codes, weights=w, minlength=n_units)
    wt = np.bincount(time_codes, weights=w, minlength=n_times)
    balanced = weights is None and len(x) == n_units * n_times and np.all(wu == n_times)
    if balanced:
        for j in range(x.shape[1]):
            col = x[:, j]
            mu = np.bincount(unit_codes, weights=col, minlength=n_units) / n_times
            mt = np.bincount(time_codes, weights=col, minlength=n_times) / n_units
            x[:, j] = col - mu[unit_codes] - mt[time_codes] + col.mean()
        return x[:, 0] if one_d else x
    for j in range(x.shape[1]):
        col = x[:, j]
        for _ in range(max_iter):
            col = col - (np.bincount(unit_codes, weights=w * col, minlength=n_units) / wu)[unit_codes]
            step = (np.bincount(time_codes, weights=w * col, minlength=n_times) / wt)[time_codes]
            col = col - step
            if np.max(np.abs(step)) < tol:
                break
        x[:, j] = col
    return x[:, 0] if one_d else x

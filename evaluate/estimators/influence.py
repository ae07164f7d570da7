"""Influence functions as unit features times a sparse coefficient matrix, ``psi = Z @ A``.

Callaway-Sant'Anna's ATT(g,t) without covariates, and every aggregation of them, have influence
functions that are, for each unit, its weight times a linear function of its outcome series:
``psi[i, p] = w_i * ([y_i - ybar_k, 1] @ A_k[:, p])`` for the units ``i`` of cohort ``k``. The
n x P matrix is then ``Z @ A`` with ``Z`` block diagonal by cohort (:class:`CohortFeatures`:
each cohort's weighted, centred outcomes and weight, ``n_k x (T + 1)``) and ``A`` sparse.
Variances, covariances and Wald tests need only each cohort's Gram matrix ``Z_k' Z_k``, never the
dense influence matrix (at 3,000 units and 2,000 cells: 48 MB, and a 2,000-square product per
cohort for the pre-test).

A dense influence matrix (the covariate-adjusted cells) takes the same form with
:class:`DenseFeatures` (``Z`` is the matrix itself plus the weight columns), so aggregation,
standard errors, the pre-test and the bootstrap have one implementation. ``dense()`` gives the
plain matrix back; the tests check every operation against it.

Every unit has a weight feature (``w_i`` in its cohort's column ``weight_row(k)``): the
influence of estimating cohort-share aggregation weights is ``w_i`` times a constant per cohort
(``did::wif``), a coefficient on that feature (:meth:`Influence.then`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg, sparse

__all__ = ["CohortFeatures", "DenseFeatures", "Influence", "inverse_cholesky"]

HEAVY = 48  # columns with more non-zero coefficients than this take the dense route in quad_diag


@dataclass
class CohortFeatures:
    """Block-diagonal unit features: the units ``rows[k]`` of cohort ``kinds[k]`` have features
    ``[zy[k], w[k]]`` (``n_k x f``: ``f - 1`` outcome features and the unit weight) in columns
    ``k f .. (k + 1) f - 1``.

    Attributes
    ----------
    n
        Number of units.
    kinds
        Cohort of each block (``inf``: never treated).
    rows
        Unit indices of each block.
    zy
        Outcome features of each block (``n_k x (f - 1)``; views of one array are fine).
    w
        Unit weights of each block.
    means
        The weighted mean outcomes of each block (blocks x (f - 1)) around which ``zy`` is
        centred, if known.
    """

    n: int
    kinds: np.ndarray
    rows: list[np.ndarray]
    zy: list[np.ndarray]
    w: list[np.ndarray]
    means: np.ndarray | None = None
    _gram: np.ndarray | None = field(default=None, repr=False)

    @property
    def width(self) -> int:
        """Features per block (``f``)."""
        return self.zy[0].shape[1] + 1

    @property
    def n_blocks(self) -> int:
        """Number of blocks (cohorts)."""
        return len(self.zy)

    @property
    def n_features(self) -> int:
        """All features (``K f``)."""
        return self.n_blocks * self.width

    def weight_row(self, k: int) -> int:
        """Feature index of the unit weight of block ``k``."""
        return (k + 1) * self.width - 1

    @property
    def gram(self) -> np.ndarray:
        """Each block's ``[zy, w]' [zy, w]`` (``K x f x f``, computed once)."""
        if self._gram is None:
            f = self.width
            gram = np.empty((self.n_blocks, f, f))
            for k, (zk, wk) in enumerate(zip(self.zy, self.w, strict=True)):
                gram[k, :-1, :-1] = zk.T @ zk
                gram[k, :-1, -1] = gram[k, -1, :-1] = wk @ zk
                gram[k, -1, -1] = wk @ wk
            self._gram = gram
        return self._gram

    def _split(self, a: sparse.csc_matrix) -> list[tuple[int, sparse.csr_matrix]]:
        """The non-empty row blocks of ``a`` (``f x P`` each)."""
        csr = a.tocsr()
        f = self.width
        out = []
        for k in range(self.n_blocks):
            part = csr[k * f:(k + 1) * f]
            if part.nnz:
                out.append((k, part))
        return out

    def _blocks_of(self, a: sparse.csc_matrix) -> list[tuple[int, np.ndarray, np.ndarray, sparse.csr_matrix]]:
        """The non-empty blocks of ``a``: ``(k, rows, cols, x)`` with ``x' = a[k f + rows][:, cols]``
        (sparse, parameters x features) over the rows and columns that have coefficients."""
        csr = sparse.csr_matrix(a)
        csr.sum_duplicates()
        f = self.width
        out = []
        for k in range(self.n_blocks):
            ptr = csr.indptr[k * f:(k + 1) * f + 1]
            lo, hi = int(ptr[0]), int(ptr[-1])
            if hi == lo:
                continue
            per_row = np.diff(ptr)
            rows = np.flatnonzero(per_row)
            cols, col_pos = np.unique(csr.indices[lo:hi], return_inverse=True)
            row_pos = np.repeat(np.arange(len(rows)), per_row[rows])
            xt = sparse.csr_matrix((csr.data[lo:hi], (col_pos, row_pos)), shape=(len(cols), len(rows)))
            out.append((k, rows, cols, xt))
        return out

    def quad_diag(self, a: sparse.csc_matrix) -> np.ndarray:
        """``diag(psi' psi)`` for ``psi = Z a``: ``sum_k a_k' G_k a_k`` column by column.

        Columns with few coefficients sum their pairs of coefficients directly; the rest are
        made dense (``P_heavy x K x f``) and go through batched products with the Gram blocks.
        """
        a = sparse.csc_matrix(a)
        a.sum_duplicates()
        a.sort_indices()
        p = a.shape[1]
        f = self.width
        out = np.zeros(p)
        counts = np.diff(a.indptr)
        heavy = counts > HEAVY
        if heavy.any():
            cols = np.flatnonzero(heavy)
            x = a[:, cols].toarray().T.reshape(len(cols), self.n_blocks, f).transpose(1, 0, 2)  # K x H x f
            out[cols] = np.einsum("khf,khf->h", np.matmul(x, self.gram), x)
            counts = np.where(heavy, 0, counts)
        if counts.any():
            # sum over pairs of coefficients in the same column and block (a segment: entries are
            # sorted by row within a column, a block's rows contiguous), segments of equal length
            # at once
            entry = _entries(a.indptr[:-1], counts)
            col = np.repeat(np.arange(p), counts)
            rows = a.indices[entry].astype(np.int64)  # (the flat Gram index below can pass 2**31)
            data = a.data[entry]
            key = col * self.n_blocks + rows // f
            seg_start = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
            seg_len = np.diff(np.append(seg_start, len(key)))
            flat_gram = self.gram.reshape(-1)
            for length in np.unique(seg_len):
                starts = seg_start[seg_len == length]
                at = starts[:, None] + np.arange(length)
                r, d = rows[at], data[at]
                g = flat_gram[r[:, :, None] * f + (r[:, None, :] % f)]  # gram[block, r_i, r_j]
                vals = np.einsum("si,sij,sj->s", d, g, d)
                out += np.bincount(col[starts], weights=vals, minlength=p)
        return out

    def quad(self, a: sparse.csc_matrix) -> np.ndarray:
        """``psi' psi`` (P x P) for ``psi = Z a``."""
        p = a.shape[1]
        if p <= HEAVY:  # a few parameters: dense coefficients, batched over the blocks
            x = sparse.csc_matrix(a).toarray()
            gx = np.matmul(self.gram, x.reshape(self.n_blocks, self.width, p)).reshape(x.shape)
            return x.T @ gx
        out = np.zeros((p, p))
        for k, rows, cols, xt in self._blocks_of(a):
            out[np.ix_(cols, cols)] += np.asarray(xt @ (xt @ self.gram[k][np.ix_(rows, rows)]).T)
        return out

    def apply(self, a: sparse.csc_matrix) -> np.ndarray:
        """``Z a`` (n x P), column-major."""
        out = np.zeros((a.shape[1], self.n))
        for k, part in self._split(a):
            out[:, self.rows[k]] = part[:-1].T @ self.zy[k].T + np.outer(part[-1].toarray(), self.w[k])
        return out.T

    def project(self, xi: np.ndarray, a: sparse.csc_matrix) -> np.ndarray:
        """``xi Z a`` for ``xi`` (d x n): ``xi Z`` block by block, then one sparse product."""
        f = self.width
        order = np.concatenate(self.rows)
        xi_sorted = xi[:, order]  # the units of each block contiguous
        xz = np.empty((xi.shape[0], self.n_features))
        at = 0
        for k, rows in enumerate(self.rows):
            xk = xi_sorted[:, at:at + len(rows)]
            xz[:, k * f:(k + 1) * f - 1] = xk @ self.zy[k]
            xz[:, (k + 1) * f - 1] = xk @ self.w[k]
            at += len(rows)
        return np.asarray(sparse.csr_matrix(a.T) @ xz.T).T

    def wald(self, a: sparse.csc_matrix, b: np.ndarray, groups: np.ndarray) -> float | None:
        """``b' (psi' psi)^-1 b`` by the Woodbury identity, or ``None`` when it does not apply.

        Blocks whose coefficients touch the parameters of one group (cohort) only form a
        block-diagonal part ``D``; the others a low-rank part ``L L'`` (rank at most ``f`` each,
        from a pivoted Cholesky factor of the block's Gram matrix). It applies when that rank is
        at most half the parameters and ``D`` is positive definite and well conditioned (a
        bound on the condition number of ``D + L L'`` below ``1e12``: far from the condition
        at which the assembled solve calls the matrix singular, 1 / machine epsilon).
        """
        p = len(b)
        labels, gi = np.unique(groups, return_inverse=True)
        members = [np.flatnonzero(gi == j) for j in range(len(labels))]
        position = np.empty(p, dtype=np.int64)  # each parameter's index within its group
        for m in members:
            position[m] = np.arange(len(m))
        diag: list[np.ndarray | None] = [None] * len(members)
        low: list[tuple[np.ndarray, np.ndarray]] = []  # the low-rank part: (rows, p_rows x r_k) per block
        rank = 0
        for k, rows, cols, xt in self._blocks_of(a):
            m_sub = self.gram[k][np.ix_(rows, rows)]
            touched = np.unique(gi[cols])
            if len(touched) == 1:
                j = int(touched[0])
                part = np.asarray(xt @ (xt @ m_sub).T)
                at = position[cols]
                if len(at) == len(members[j]) and np.array_equal(at, np.arange(len(at))):
                    diag[j] = part if diag[j] is None else diag[j] + part
                else:
                    d = np.zeros((len(members[j]), len(members[j]))) if diag[j] is None else diag[j]
                    d[np.ix_(at, at)] += part
                    diag[j] = d
                continue
            # m_sub = factor factor': the Cholesky factor in the features' order if m_sub is
            # positive definite (lower triangular, so a parameter loading on early features only
            # has a factor row with trailing zeros, which _woodbury skips), else a pivoted one
            c, info = linalg.lapack.dpotrf(m_sub, lower=1, clean=1)
            if info == 0:
                factor, r = c, len(rows)
            else:
                c, piv, r, info = linalg.lapack.dpstrf(m_sub, lower=1)
                if info < 0:
                    return None
                factor = np.zeros((len(rows), r))
                factor[piv - 1] = np.tril(c)[:, :r]
            rank += r
            if rank > p // 2:
                return None
            low.append((cols, np.asarray(xt @ factor)))
        blocks = [d if d is not None else np.zeros((len(m), len(m))) for d, m in zip(diag, members, strict=True)]
        g = np.zeros((p, rank))
        at = 0
        for cols, part in low:
            g[cols, at:at + part.shape[1]] = part
            at += part.shape[1]
        return _woodbury(b, members, blocks, g)


def _entries(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])``, vectorised."""
    total = int(counts.sum())
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return np.arange(total) + offsets


def inverse_cholesky(d: np.ndarray) -> tuple[np.ndarray, float, float] | None:
    """``C^-1`` for the lower Cholesky factor ``C`` of a symmetric matrix, with bounds on its
    eigenvalues, or ``None`` if it is not positive definite.

    Parameters
    ----------
    d
        The matrix.

    Returns
    -------
    inverse, upper, lower
        ``C^-1`` (explicit: one matrix product per use), ``||d||_1`` (at least the largest
        eigenvalue) and ``1 / ||C^-1||_F^2`` (at most the smallest).
    """
    c, info = linalg.lapack.dpotrf(d, lower=1, clean=1)
    if info != 0:
        return None
    inv, info = linalg.lapack.dtrtri(c, lower=1)
    if info != 0:
        return None
    flat = inv.reshape(-1)
    return inv, float(np.abs(d).sum(axis=0).max()), 1.0 / float(flat @ flat)


def _woodbury(b: np.ndarray, members: list[np.ndarray], diag: list[np.ndarray], low: np.ndarray) -> float | None:
    """``b' (D + L L')^-1 b`` with ``D`` block diagonal (``diag`` on ``members``), or ``None`` if
    a block of ``D`` is not positive definite or a bound on the condition number of ``D + L L'``
    (``(||D||_1 + ||L||_F^2) ||C^-1||_F^2``) exceeds 1e12.

    With ``C C' = D`` (Cholesky, block by block), ``u = C^-1 b`` and ``H = C^-1 L`` the statistic
    is ``u'u - (H'u)' (I + H'H)^-1 (H'u)``; each block's rows of ``L`` are used up to their last
    non-zero column.
    """
    inverses, upper, lower = [], 0.0, np.inf
    for d in diag:
        factored = inverse_cholesky(d)
        if factored is None:
            return None
        inverses.append(factored[0])
        upper, lower = max(upper, factored[1]), min(lower, factored[2])
    flat = low.reshape(-1)
    if upper + float(flat @ flat) > 1e12 * lower:  # + ||L||_F^2: a bound on the condition number
        return None
    r = low.shape[1]
    stat = 0.0
    hu = np.zeros(r)
    hh = np.eye(r)  # I + H'H, accumulated group by group
    for m, inv in zip(members, inverses, strict=True):
        u = inv @ b[m]
        stat += float(u @ u)
        used = np.flatnonzero(np.any(low[m] != 0, axis=0))
        width = int(used[-1]) + 1 if len(used) else 0  # the group's loadings end here
        if width:
            h = inv @ low[m, :width]
            hu[:width] += h.T @ u
            hh[:width, :width] += h.T @ h
    if r:
        stat -= float(hu @ linalg.solve(hh, hu, assume_a="pos", check_finite=False))
    return stat


@dataclass
class DenseFeatures:
    """Unit features ``[psi, w * onehot(kind)]`` for influence functions known as a dense matrix.

    Attributes
    ----------
    psi
        The dense influence functions, ``n x P0``.
    kinds
        Distinct cohorts.
    kind_of_unit
        Each unit's index in ``kinds``.
    weights
        Unit weights.
    """

    psi: np.ndarray
    kinds: np.ndarray
    kind_of_unit: np.ndarray
    weights: np.ndarray

    @property
    def n(self) -> int:
        """Number of units."""
        return self.psi.shape[0]

    @property
    def n_features(self) -> int:
        """``P0`` influence columns and one weight column per cohort."""
        return self.psi.shape[1] + len(self.kinds)

    def weight_row(self, k: int) -> int:
        """Feature index of the weights of cohort ``k``."""
        return self.psi.shape[1] + k

    def apply(self, a: sparse.csc_matrix) -> np.ndarray:
        """``Z a`` (n x P), column-major."""
        p0 = self.psi.shape[1]
        top, bottom = a[:p0], a[p0:].tocsr()
        out = np.asarray(top.T @ self.psi.T)
        if bottom.nnz:
            out += np.asarray(bottom.T @ np.eye(len(self.kinds))[:, self.kind_of_unit]) * self.weights
        return out.T

    def quad_diag(self, a: sparse.csc_matrix) -> np.ndarray:
        """``diag(psi' psi)`` for ``psi = Z a``."""
        y = self.apply(a)
        return np.einsum("ij,ij->j", y, y)

    def quad(self, a: sparse.csc_matrix) -> np.ndarray:
        """``psi' psi`` (P x P) for ``psi = Z a``, one cohort of units at a time over the columns
        those units touch."""
        y = self.apply(a)
        p = y.shape[1]
        out = np.zeros((p, p))
        for k in range(len(self.kinds)):
            rows = y[self.kind_of_unit == k]
            cols = np.flatnonzero(np.any(rows != 0, axis=0))
            if len(cols) == p:
                out += rows.T @ rows
            elif len(cols):
                sub = rows[:, cols]
                out[np.ix_(cols, cols)] += sub.T @ sub
        return out

    def project(self, xi: np.ndarray, a: sparse.csc_matrix) -> np.ndarray:
        """``xi Z a`` for ``xi`` (d x n)."""
        return xi @ self.apply(a)

    def wald(self, a: sparse.csc_matrix, b: np.ndarray, groups: np.ndarray) -> float | None:
        """No structure to use: ``None`` (the caller assembles the matrix)."""
        return None


Features = CohortFeatures | DenseFeatures


class Influence:
    """Influence functions of ``P`` parameters for ``n`` units: ``psi = Z @ coef``.

    Parameters
    ----------
    features
        The units' features ``Z`` (shared by every influence derived from this one).
    coef
        ``n_features x P`` sparse coefficients.
    """

    def __init__(self, features: Features, coef: sparse.csc_matrix) -> None:
        self.features = features
        self.coef = sparse.csc_matrix(coef)

    @classmethod
    def from_dense(cls, psi: np.ndarray, kind_of_unit: np.ndarray, weights: np.ndarray) -> Influence:
        """The form of a dense ``n x P`` influence matrix.

        Parameters
        ----------
        psi
            Influence functions, ``n x P``.
        kind_of_unit
            Each unit's cohort (``inf`` for never treated).
        weights
            Unit weights.
        """
        kinds, inverse = np.unique(kind_of_unit, return_inverse=True)
        feats = DenseFeatures(psi, kinds, inverse, weights)
        p = psi.shape[1]
        return cls(feats, sparse.identity(feats.n_features, format="csc")[:, :p])

    @property
    def n(self) -> int:
        """Number of units."""
        return self.features.n

    @property
    def n_params(self) -> int:
        """Number of parameters (columns)."""
        return self.coef.shape[1]

    @property
    def kinds(self) -> np.ndarray:
        """The cohorts whose units carry a weight feature (for :meth:`then`)."""
        return self.features.kinds

    def then(self, weights: sparse.spmatrix | np.ndarray, per_kind: np.ndarray | None = None) -> Influence:
        """The influence of linear combinations of the parameters: ``psi @ weights``, plus
        ``w_i * per_kind[k]`` for the units of cohort ``kinds[k]``.

        Parameters
        ----------
        weights
            ``P x m`` combination weights.
        per_kind
            ``len(kinds) x m`` coefficients on the unit weight (the influence of estimating
            cohort-share weights), or ``None``.
        """
        coef = self.coef @ sparse.csc_matrix(weights)
        if per_kind is not None and np.any(per_kind):
            k_idx, m_idx = np.nonzero(per_kind)
            rows = np.array([self.features.weight_row(int(k)) for k in range(len(self.kinds))])[k_idx]
            coef = coef + sparse.csc_matrix((per_kind[k_idx, m_idx], (rows, m_idx)), shape=coef.shape)
        return Influence(self.features, coef)

    def select(self, columns: np.ndarray) -> Influence:
        """The influence of a subset of the parameters (indices or a boolean mask)."""
        idx = np.flatnonzero(columns) if np.asarray(columns).dtype == bool else np.asarray(columns)
        return Influence(self.features, self.coef[:, idx])

    @staticmethod
    def concat(parts: list[Influence]) -> Influence:
        """Side by side (the parts must share their features)."""
        features = parts[0].features
        if any(p.features is not features for p in parts):
            raise ValueError("Influence.concat: the parts have different unit features")
        return Influence(features, sparse.hstack([p.coef for p in parts], format="csc"))

    def sumsq(self) -> np.ndarray:
        """``sum_i psi[i, p]**2`` for every parameter (the analytic variance times ``n**2``)."""
        return self.features.quad_diag(self.coef)

    def gram(self) -> np.ndarray:
        """``psi' psi`` (P x P)."""
        return self.features.quad(self.coef)

    def dense(self) -> np.ndarray:
        """The plain ``n x P`` matrix (column-major: each parameter's influence contiguous)."""
        return self.features.apply(self.coef)

    def column(self, j: int) -> np.ndarray:
        """The influence function of parameter ``j`` (length n)."""
        return self.features.apply(self.coef[:, [j]])[:, 0]

    def project(self, xi: np.ndarray) -> np.ndarray:
        """``xi @ psi`` for a ``d x n`` matrix ``xi`` (multiplier-bootstrap draws)."""
        return self.features.project(xi, self.coef)

    def wald(self, b: np.ndarray, groups: np.ndarray) -> float | None:
        """``b' (psi' psi)^-1 b``, or ``None`` if ``psi' psi`` is numerically singular.

        ``groups`` labels each parameter (its cohort). With cohort features the structure of
        the matrix (block diagonal by cohort plus low rank) is used when it can be
        (:meth:`CohortFeatures.wald`); otherwise the matrix is assembled and solved, and is
        called singular when the solver warns that its condition is below machine precision.
        """
        fast = self.features.wald(self.coef, b, groups)
        if fast is not None:
            return fast
        v = self.gram()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", linalg.LinAlgWarning)
                return float(b @ linalg.solve(v, b, assume_a="pos"))
        except (linalg.LinAlgError, linalg.LinAlgWarning):
            return None

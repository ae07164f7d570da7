"""Statistical disclosure control of published counts: primary and secondary suppression.

Every count a run publishes (a cell of a table, a point of a chart) is a *cell*: the sum of a set
of *atoms*, the smallest counts the data hold (one variable, one area, one period). Two cells with
the same atoms are the same number, wherever they appear; a total is simply a cell whose atoms are
the union of its parts. Seeing cells this way lets one ledger protect a whole run at once: a small
monthly count hidden in a chart cannot be recovered by subtracting the other months from a
before/after total published in a table.

Rules (applied by :meth:`DisclosureLedger.resolve`):

1. **Primary suppression.** A cell whose count is below ``min_count`` (zero included) is
   suppressed and shown as ``[c]``.
2. **Groups.** Cells registered under one ``group`` are suppressed together (a chart series
   whose fitted line would otherwise give its missing points away).
3. **Secondary suppression.** No suppressed cell may be *determined* by what is published: not by
   the linear equations that published cells give (a total minus its published parts), and not
   by those equations together with the knowledge that counts are non-negative (two suppressed
   cells summing to zero are both zero). While one is, the smallest published cell whose
   suppression protects it (or, failing that, the smallest nearby cell) is suppressed as well.
4. **Rates and indices** built on a suppressed count are suppressed too; that is the caller's
   part (:func:`mask_derived`), since only the caller knows which count a rate was built on.

A cell whose count is unknown (it includes a cell suppressed or missing in the source data) is
*unavailable* (``[x]``); it publishes nothing and constrains nothing.

The exposure check (:func:`exposed_cells`) reduces atoms to classes (atoms that belong to exactly
the same cells), tests whether each suppressed cell's indicator lies in the row space of the
published cells' indicators (exact linear determination), and otherwise solves two linear
programmes (its minimum and maximum over non-negative class totals that reproduce every published
cell, SciPy's HiGHS). A cell is protected when that range is at least one count wide (for whole
counts) or not a single value (for fractional counts such as weekly counts apportioned to months).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "SUPPRESSED",
    "NOT_AVAILABLE",
    "CellKey",
    "DisclosureLedger",
    "SuppressedTable",
    "exposed_cells",
    "mask_derived",
    "suppress_table",
]

SUPPRESSED = "[c]"
"""Shown in place of a suppressed count (GSS convention: confidential)."""

NOT_AVAILABLE = "[x]"
"""Shown in place of a count that is not available (it includes missing or source-suppressed data)."""

CellKey = frozenset
"""A cell is identified by its atoms."""

Status = Literal["shown", "suppressed", "unavailable"]

_MAX_TRIALS = 12  # candidate cells tried per exposed cell before falling back to the smallest


def _is_whole(x: float) -> bool:
    return abs(x - round(x)) < 1e-9


def exposed_cells(
    published: Mapping[CellKey, float],
    suppressed: Iterable[CellKey],
    *,
    only: Iterable[CellKey] | None = None,
    first: bool = False,
) -> list[CellKey]:
    """Suppressed cells whose value follows from the published cells.

    Parameters
    ----------
    published
        Published cells (atom sets) and their values.
    suppressed
        Cells that are not published but whose atoms are known to an attacker.
    only
        Check just these suppressed cells (default: all).
    first
        Stop at the first exposed cell (cells determined by linear equations are found first).

    Returns
    -------
    list of frozenset
        The exposed cells, in the order given.
    """
    sup = list(dict.fromkeys(suppressed))
    targets = sup if only is None else [c for c in dict.fromkeys(only) if c in set(sup)]
    if not targets:
        return []
    pub = [k for k in published if k not in set(sup)]
    cells = pub + sup
    # atom classes: atoms that belong to exactly the same cells
    membership: dict[Hashable, list[int]] = {}
    for i, cell in enumerate(cells):
        for atom in cell:
            membership.setdefault(atom, []).append(i)
    classes: dict[tuple[int, ...], int] = {}
    for idx in membership.values():
        classes.setdefault(tuple(idx), len(classes))
    k = len(classes)
    m = np.zeros((len(cells), k))
    for idx, c in classes.items():
        m[list(idx), c] = 1.0
    a = m[: len(pub)]
    b = np.array([float(published[c]) for c in pub])
    whole = all(_is_whole(v) for v in b)
    index = {c: len(pub) + i for i, c in enumerate(sup)}

    basis = np.zeros((0, k))
    if len(pub):
        _, s, vt = np.linalg.svd(a, full_matrices=False)
        basis = vt[s > 1e-9 * max(1.0, s.max() if len(s) else 1.0)]
    linear, rest = [], []
    for target in targets:
        v = m[index[target]]
        resid = v - (v @ basis.T) @ basis if len(basis) else v
        (linear if np.linalg.norm(resid) < 1e-8 else rest).append(target)
    if first and linear:
        return linear[:1]
    out = set(linear)
    if len(pub):
        for target in rest:
            if _pinned_by_non_negativity(m[index[target]], a, b, whole=whole):
                out.add(target)
                if first:
                    break
    return [t for t in targets if t in out]


def _pinned_by_non_negativity(v: np.ndarray, a: np.ndarray, b: np.ndarray, *, whole: bool) -> bool:
    """Whether ``v . y`` takes (practically) one value over ``y >= 0, a y = b``."""
    from scipy.optimize import linprog

    # only classes that share a published cell with the target can be bounded by one
    touched = np.flatnonzero(a[:, v > 0].any(axis=1))
    if len(touched) == 0:
        return False
    cols = np.flatnonzero(a[touched].any(axis=0) | (v > 0))
    rows = np.flatnonzero(a[:, cols].any(axis=1))
    # a published cell with atoms outside ``cols`` still constrains; keep it with all its classes
    cols = np.flatnonzero(a[rows].any(axis=0) | (v > 0))
    aa, bb, vv = a[np.ix_(rows, cols)], b[rows], v[cols]
    lo = linprog(vv, A_eq=aa, b_eq=bb, bounds=(0, None), method="highs")
    hi = linprog(-vv, A_eq=aa, b_eq=bb, bounds=(0, None), method="highs")
    if lo.status == 3 or hi.status == 3:  # unbounded: not pinned
        return False
    if lo.status != 0 or hi.status != 0:
        return True  # cannot tell: treat as exposed (suppress more, never less)
    width = -hi.fun - lo.fun
    return width < (1 - 1e-6 if whole else 1e-6 * max(1.0, abs(lo.fun)))


@dataclass
class _Cell:
    value: float
    where: list[str] = field(default_factory=list)


class DisclosureLedger:
    """Every count a run publishes, and which of them must be suppressed.

    Register each published count with :meth:`add` (its atoms and value), call :meth:`resolve`
    once, then ask :meth:`status` for each cell while drawing tables and charts.

    Parameters
    ----------
    min_count
        Counts below this are suppressed (``outputs.disclosure.min_count``). ``0`` turns
        suppression off.
    strict
        Raise when the same atoms are registered with different values; otherwise (the default
        in a run) such a cell is suppressed, so two versions of one count are never published.
    """

    def __init__(self, min_count: int, *, strict: bool = False) -> None:
        if min_count < 0:
            raise ValueError(f"min_count must be 0 or more, got {min_count}")
        self.min_count = int(min_count)
        self.strict = strict
        self._conflicts: set[CellKey] = set()
        self._cells: dict[CellKey, _Cell] = {}
        self._groups: dict[str, set[CellKey]] = {}
        self._primary: set[CellKey] = set()
        self._suppressed: set[CellKey] = set()
        self._resolved = False

    def add(
        self,
        atoms: Iterable[Hashable],
        value: float,
        *,
        group: str | None = None,
        where: str = "",
    ) -> CellKey:
        """Register a published count.

        Parameters
        ----------
        atoms
            The atoms the count sums (e.g. ``(variable, area, period)`` tuples).
        value
            The count; NaN if it is not known (then it is shown as ``[x]``).
        group
            Cells of one group are suppressed together.
        where
            Where the cell is published (for the disclosure summary).

        Returns
        -------
        frozenset
            The cell's key.

        Raises
        ------
        ValueError
            If the same atoms were registered with a different value, or after :meth:`resolve`.
        """
        if self._resolved:
            raise ValueError("the ledger is resolved; register every cell before resolve()")
        key = frozenset(atoms)
        if not key:
            raise ValueError("a published count needs at least one atom")
        value = float(value)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = _Cell(value)
        elif not (
            (np.isnan(cell.value) and np.isnan(value))
            or abs(cell.value - value) <= 1e-6 * max(1.0, abs(value))
        ):
            if self.strict:
                raise ValueError(
                    f"a count was registered twice with different values ({cell.value} and {value}) "
                    f"at {cell.where + [where]}; the same atoms must give the same count"
                )
            self._conflicts.add(key)  # suppressed: never publish two versions of one count
        if where:
            cell.where.append(where)
        if group is not None:
            self._groups.setdefault(group, set()).add(key)
        return key

    def _expand(self, cells: set[CellKey]) -> set[CellKey]:
        out = set(cells)
        changed = True
        while changed:
            changed = False
            for members in self._groups.values():
                if members & out and not members <= out:
                    out |= members
                    changed = True
        return {c for c in out if not np.isnan(self._cells[c].value)}

    def resolve(self) -> None:
        """Decide every suppression (primary, groups, secondary); call once after all ``add``."""
        known = {k: c.value for k, c in self._cells.items() if not np.isnan(c.value)}
        self._primary = {k for k, v in known.items() if v < self.min_count} | (self._conflicts & set(known))
        suppressed = self._expand(self._primary)
        groups = [g & set(known) for g in self._groups.values()]
        for component in _components(list(known), groups):
            comp = set(component)
            sup = suppressed & comp
            if not sup:
                continue
            while True:
                pub = {k: known[k] for k in comp - sup}
                exposed = exposed_cells(pub, sup, first=True)
                if not exposed:
                    break
                sup |= self._expand(self._protect(exposed[0], pub, sup))
            suppressed |= sup
        self._suppressed = suppressed
        self._resolved = True

    def _protect(self, target: CellKey, pub: dict[CellKey, float], sup: set[CellKey]) -> set[CellKey]:
        """The published cell to suppress next so that ``target`` is (closer to) protected.

        First the smallest cell whose suppression alone protects ``target``; failing that, the
        smallest *sibling*: a cell that shares a published total with ``target`` (another cell
        of its row or column) or is such a total.
        """

        def order(c: CellKey) -> tuple[float, int, list[str]]:
            return (pub[c], len(c), sorted(map(repr, c)))

        parents = [c for c in pub if c > target]
        # the nearest totals only: a row total, not the grand total above it
        parents = [p for p in parents if not any(target < q < p for q in parents)]
        siblings = set(parents)
        for p in parents:
            siblings |= {c for c in pub if c < p and not c & target}
        near = {c for c in pub if c & target}
        near_atoms = frozenset().union(target, *near)
        others = {c for c in pub if c & near_atoms} - siblings
        candidates = sorted(siblings, key=order) + sorted(others, key=order)
        for cand in candidates[:_MAX_TRIALS]:
            trial = self._expand({cand}) | sup
            rest = {k: v for k, v in pub.items() if k not in trial}
            if not exposed_cells(rest, trial, only=[target]):
                return {cand}
        fallback = sorted(siblings, key=order) or candidates or sorted(pub, key=order)
        return {fallback[0]}

    def _check(self) -> None:
        if not self._resolved:
            raise ValueError("call resolve() before asking which cells are suppressed")

    def status(self, key: CellKey) -> Status:
        """``shown``, ``suppressed`` or ``unavailable`` for a registered cell."""
        self._check()
        cell = self._cells[frozenset(key)]
        if np.isnan(cell.value):
            return "unavailable"
        return "suppressed" if frozenset(key) in self._suppressed else "shown"

    def is_shown(self, key: CellKey) -> bool:
        """Whether the cell's count may be published."""
        return self.status(key) == "shown"

    @property
    def primary(self) -> set[CellKey]:
        """Cells suppressed because their count is below ``min_count``."""
        self._check()
        return set(self._primary)

    @property
    def secondary(self) -> set[CellKey]:
        """Cells suppressed to protect others (groups and secondary suppression)."""
        self._check()
        return self._suppressed - self._primary

    def published(self) -> dict[CellKey, float]:
        """Every cell that is shown, with its value (what an attacker sees)."""
        self._check()
        return {k: c.value for k, c in self._cells.items() if self.status(k) == "shown"}

    def summary(self) -> dict[str, int]:
        """Counts of cells by outcome, for the report."""
        self._check()
        n_unavailable = sum(1 for c in self._cells.values() if np.isnan(c.value))
        return {
            "cells": len(self._cells),
            "primary": len(self._primary),
            "secondary": len(self.secondary),
            "unavailable": n_unavailable,
            "conflicting": len(self._conflicts),
            "min_count": self.min_count,
        }


def _components(cells: list[CellKey], groups: list[set[CellKey]]) -> list[list[CellKey]]:
    """Cells grouped into sets linked by shared atoms or groups (directly or through others)."""
    parent = list(range(len(cells)))
    position = {c: i for i, c in enumerate(cells)}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[Hashable, int] = {}
    for i, cell in enumerate(cells):
        for atom in cell:
            j = owner.setdefault(atom, i)
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[ri] = rj
    for members in groups:
        idx = [position[c] for c in members]
        for j in idx[1:]:
            ri, rj = find(idx[0]), find(j)
            if ri != rj:
                parent[ri] = rj
    out: dict[int, list[CellKey]] = {}
    for i, cell in enumerate(cells):
        out.setdefault(find(i), []).append(cell)
    return list(out.values())


@dataclass(frozen=True)
class SuppressedTable:
    """A count table with its totals after disclosure control.

    Attributes
    ----------
    values
        Counts with a total row and column (NaN: not available).
    status
        ``shown``, ``suppressed`` or ``unavailable`` per cell, same shape.
    """

    values: pd.DataFrame
    status: pd.DataFrame

    @property
    def suppressed(self) -> pd.DataFrame:
        """True where a cell is suppressed."""
        return self.status == "suppressed"

    def published(self) -> pd.DataFrame:
        """What may be published: numbers, ``[c]`` (suppressed) or ``[x]`` (not available)."""
        out = self.values.astype(object).copy()
        out = out.mask(self.status == "suppressed", SUPPRESSED)
        return out.mask(self.status == "unavailable", NOT_AVAILABLE)

    def formatted(self, digits: int = 0) -> pd.DataFrame:
        """Published values as text with thousands separators."""
        pub = self.published()
        return pub.map(lambda v: v if isinstance(v, str) else f"{v:,.{digits}f}")


def suppress_table(
    counts: pd.DataFrame,
    *,
    min_count: int,
    row_totals: bool = True,
    column_totals: bool = True,
    total_label: str = "Total",
) -> SuppressedTable:
    """Suppress a two-way count table and its totals.

    Parameters
    ----------
    counts
        Interior cells (rows x columns), whole or fractional counts; NaN where unknown.
    min_count
        Counts below this are suppressed.
    row_totals, column_totals
        Add (and protect) a total column and a total row; the grand total comes with both.
    total_label
        Label of the total row and column.

    Returns
    -------
    SuppressedTable

    Raises
    ------
    ValueError
        If a count is negative or the table has duplicate labels.
    """
    if counts.index.has_duplicates or counts.columns.has_duplicates:
        raise ValueError("suppress_table: row and column labels must be unique")
    values = counts.astype(float)
    if (values < 0).any().any():
        raise ValueError("suppress_table: counts cannot be negative")
    ledger = DisclosureLedger(min_count, strict=True)
    rows, cols = list(values.index), list(values.columns)
    full = values.copy()
    if row_totals:
        full[total_label] = values.sum(axis=1, min_count=1).where(values.notna().all(axis=1))
    if column_totals:
        total = full.sum(axis=0, min_count=1).where(full.notna().all(axis=0))
        full.loc[total_label] = total
    keys: dict[tuple[object, object], CellKey] = {}
    for r in full.index:
        for c in full.columns:
            rs = rows if r == total_label and column_totals else [r]
            cs = cols if c == total_label and row_totals else [c]
            atoms = [(a, b) for a in rs for b in cs]
            keys[(r, c)] = ledger.add(atoms, full.loc[r, c])
    ledger.resolve()
    status = pd.DataFrame(
        [[ledger.status(keys[(r, c)]) for c in full.columns] for r in full.index],
        index=full.index,
        columns=full.columns,
    )
    return SuppressedTable(values=full, status=status)


def mask_derived(values: pd.Series | np.ndarray, count_shown: pd.Series | np.ndarray) -> np.ndarray:
    """Rates, indices or other numbers built on counts: missing where their count is not shown.

    Parameters
    ----------
    values
        The derived numbers.
    count_shown
        True where the count each number was built on may be published.
    """
    v = np.asarray(values, dtype=float).copy()
    v[~np.asarray(count_shown, dtype=bool)] = np.nan
    return v

"""``evaluate verify``: re-run every published replication and compare with the published numbers.

Each replication reads a small dataset shipped in ``evaluate/reference/`` (with its citation and
licence), fits it with the package's own estimators, and yields :class:`Check` rows: the
published value, the value obtained, the tolerance and whether it passes. The command exits 0
only if every check passes. Estimator issues add their replications to :data:`REPLICATIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = ["Check", "REPLICATIONS", "reference_dir", "run_verification", "format_checks"]


@dataclass(frozen=True)
class Check:
    """One published number against the number obtained.

    ``kind`` is ``"relative"`` (|obtained - published| <= tolerance x |published|),
    ``"absolute"`` (|obtained - published| <= tolerance) or ``"decimals"`` (equal when both
    are rounded to ``tolerance`` decimals, i.e. to the precision the source prints).
    """

    replication: str
    quantity: str
    published: float
    obtained: float
    tolerance: float
    kind: str
    source: str

    @property
    def passed(self) -> bool:
        """True when the obtained value is within the tolerance."""
        if self.kind == "decimals":
            return round(self.obtained, int(self.tolerance)) == round(self.published, int(self.tolerance))
        gap = abs(self.obtained - self.published)
        limit = self.tolerance * abs(self.published) if self.kind == "relative" else self.tolerance
        return bool(gap <= limit)

    @property
    def tolerance_text(self) -> str:
        """``"1e-06 relative"``, ``"3 decimals"``..."""
        if self.kind == "decimals":
            return f"{int(self.tolerance)} decimals"
        return f"{self.tolerance:g} {self.kind}"


def reference_dir() -> Path:
    """Folder of the shipped reference datasets."""
    return Path(__file__).resolve().parent / "reference"


def _sicily() -> Iterator[Check]:
    from evaluate.estimators.its import its

    folder = reference_dir() / "sicily_smoking_ban"
    data = pd.read_csv(folder / "sicily.csv")
    ref = pd.read_csv(folder / "reference_models_R.csv")
    source = "Lopez Bernal, Cummins & Gasparrini (2017), authors' corrected R code"
    harmonic = {"season": "month", "season_length": 12, "harmonics": 2, "seasonality": "fourier"}
    specs = {
        "model1": {"model": "poisson", "seasonality": "none", "slope_change": False},
        "model2": {"model": "quasipoisson", "seasonality": "none", "slope_change": False},
        "model3": {"model": "quasipoisson", "slope_change": False, **harmonic},
        "model4": {"model": "quasipoisson", "slope_change": True, **harmonic},
    }
    terms = {
        "(Intercept)": "const",
        "time": "time",
        "smokban": "step",
        "smokban:I(time - 36)": "since",
        "harmonic(month, 2, 12)1": "sin1",
        "harmonic(month, 2, 12)2": "sin2",
        "harmonic(month, 2, 12)3": "cos1",
        "harmonic(month, 2, 12)4": "cos2",
    }
    for model, kw in specs.items():
        result = its(data, outcome="aces", start=37, time="time", population="stdpop", placebo=False, **kw)  # type: ignore[arg-type]
        coefs = result.diagnostics["coefficients"]
        rows = ref[ref["model"] == model]
        for _, row in rows.iterrows():
            ours = coefs[terms[row["term"]]]
            name = f"{model} {row['term']}"
            yield Check("sicily", f"{name} coefficient", row["estimate"], ours["estimate"], 1e-6, "relative", source)
            yield Check("sicily", f"{name} std. error", row["std_error"], ours["std_error"], 1e-5, "relative", source)
        est = result.estimates.set_index("estimand")
        smok = rows.set_index("term").loc["smokban"]
        for ours_col, ref_col in (("estimate", "exp_est"), ("ci_lower", "exp_lo"), ("ci_upper", "exp_hi")):
            yield Check("sicily", f"{model} rate ratio {ours_col}", smok[ref_col], est.loc["rate_ratio", ours_col], 3, "decimals", source)
        if model != "model1":
            yield Check("sicily", f"{model} dispersion", smok["dispersion"], result.diagnostics["dispersion"], 1e-5, "relative", source)


REPLICATIONS: dict[str, tuple[str, Callable[[], Iterator[Check]]]] = {
    "sicily": ("Sicily smoking ban, interrupted time series (models 1-4)", _sicily),
}
"""Replication name -> (description, function yielding checks)."""


def run_verification(names: list[str] | None = None) -> list[Check]:
    """Run replications (all by default) and return every check."""
    checks: list[Check] = []
    for name, (_, fn) in REPLICATIONS.items():
        if names and name not in names:
            continue
        checks.extend(fn())
    return checks


def format_checks(checks: list[Check]) -> str:
    """A plain-text table: published vs obtained vs tolerance, and a summary line."""
    lines = [f"{'':4} {'replication':12} {'quantity':44} {'published':>14} {'obtained':>14}  tolerance"]
    for c in checks:
        mark = "ok  " if c.passed else "FAIL"
        lines.append(
            f"{mark} {c.replication:12} {c.quantity[:44]:44} {c.published:>14.8g} {c.obtained:>14.8g}  {c.tolerance_text}"
        )
    failed = sum(not c.passed for c in checks)
    lines.append(f"{len(checks) - failed} of {len(checks)} checks passed" + (f"; {failed} FAILED" if failed else ""))
    return "\n".join(lines)

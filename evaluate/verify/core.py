"""Checks, the replication registry, and the table ``evaluate verify`` prints."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Check", "REPLICATIONS", "replication", "reference_dir", "run_verification", "format_checks"]


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
    return Path(__file__).resolve().parents[1] / "reference"


REPLICATIONS: dict[str, tuple[str, Callable[[], Iterator[Check]]]] = {}
"""Replication name -> (description, function yielding checks); filled by :func:`replication`."""


def replication(name: str, description: str) -> Callable[[Callable[[], Iterator[Check]]], Callable[[], Iterator[Check]]]:
    """Decorator registering a function that yields the checks of one replication."""

    def wrap(fn: Callable[[], Iterator[Check]]) -> Callable[[], Iterator[Check]]:
        REPLICATIONS[name] = (description, fn)
        return fn

    return wrap


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

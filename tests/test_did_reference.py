"""DiD estimators reproduce published results (evaluate verify's replications).

- mpdta (R did documentation; did 2.3.1.907 runs with bstrap = FALSE): every ATT(g,t) and
  aggregate of 16 specifications to 1e-6 absolute, analytic SEs to 1e-4 relative, pre-test p-values
  to 5 decimals, the documentation's printed ATT(g,t) to 4 decimals.
- Card & Krueger (1994) Table 3: 2.76 (within 0.01: the public data give 2.7536), 2.75, 2.51 to
  2 decimals, and the OLS interaction 2.753606 to 1e-6.
- Castle doctrine, bacondecomp vignette: weights 0.05976 / 0.03190 / 0.90834 and average estimates
  -0.00554 / 0.07032 / 0.08796 to 5 decimals; TWFE 0.0818116169306 to 1e-6 relative; CR1 SE
  0.061754 (R lm + vcovCL HC1) to 6 decimals.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from evaluate.verify import reference_dir, run_verification

SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference"


@pytest.mark.parametrize(("name", "minimum"), [("mpdta", 1000), ("card_krueger", 4), ("castle", 9)])
def test_replication_passes(name: str, minimum: int) -> None:
    checks = run_verification([name])
    assert len(checks) >= minimum
    failed = [c for c in checks if not c.passed]
    assert not failed, "\n".join(f"{c.quantity}: {c.obtained} vs {c.published} ({c.tolerance_text})" for c in failed[:10])


def test_mpdta_headline_numbers() -> None:
    """Overall aggregates, no covariates, never treated, varying base (analytic SE)."""
    by_name = {c.quantity: c for c in run_verification(["mpdta"])}
    expected = {
        "nevertreated ~1 dr varying simple overall": (-0.039951, 0.012034),
        "nevertreated ~1 dr varying dynamic overall": (-0.077240, 0.019965),
        "nevertreated ~1 dr varying group overall": (-0.031018, 0.012446),
        "nevertreated ~1 dr varying calendar overall": (-0.041700, 0.015972),
    }
    for name, (att, se) in expected.items():
        assert round(by_name[name].obtained, 6) == att
        assert by_name[f"{name} SE"].obtained == pytest.approx(se, rel=1e-4)


@pytest.mark.skipif(not SHARED.is_dir(), reason="the team's reference collection is not beside the checkout")
@pytest.mark.parametrize(
    ("folder", "files"),
    [
        ("mpdta", ["mpdta.csv", "published_reference_did_docs.csv", "reference_aggte_analytic_se.csv",
                   "reference_attgt_analytic_se.csv", "README.md"]),
        ("card_krueger_1994", ["card_krueger_long.csv", "README.md"]),
        ("castle_doctrine", ["castle_bacondecomp.csv", "README.md"]),
    ],
)
def test_shipped_copies_equal_the_reference_collection(folder: str, files: list[str]) -> None:
    for name in files:
        assert filecmp.cmp(reference_dir() / folder / name, SHARED / folder / name, shallow=False), name

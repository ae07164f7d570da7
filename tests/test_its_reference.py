"""ITS reproduces the Sicily smoking-ban models 1-4 (Lopez Bernal, Cummins & Gasparrini 2017).

Source: the authors' corrected R code (`Rcode.R`, update of 11 Sept 2020) run unchanged on
`sicily.csv`; numbers in `reference_models_R.csv` (../shared/reference/sicily_smoking_ban, shipped
in evaluate/reference/). Tolerances: coefficients 1e-6 relative, standard errors 1e-5 relative,
rate ratios and their 95% intervals equal to the printed three decimals, dispersion 1e-5
relative.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from evaluate.verify import reference_dir, run_verification

SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference"


def test_every_sicily_check_passes() -> None:
    checks = run_verification(["sicily"])
    assert len(checks) == 57
    failed = [c for c in checks if not c.passed]
    assert not failed, "\n".join(f"{c.quantity}: {c.obtained} vs {c.published} ({c.tolerance_text})" for c in failed)


def test_model3_headline_numbers() -> None:
    """Model 3 (the paper's main model): RR 0.885 (0.839-0.933), dispersion 2.262."""
    checks = {c.quantity: c for c in run_verification(["sicily"])}
    assert round(checks["model3 rate ratio estimate"].obtained, 3) == 0.885
    assert round(checks["model3 rate ratio ci_lower"].obtained, 3) == 0.839
    assert round(checks["model3 rate ratio ci_upper"].obtained, 3) == 0.933
    assert round(checks["model3 dispersion"].obtained, 3) == 2.262


def test_a_wrong_number_fails_its_check() -> None:
    from evaluate.verify import Check

    assert not Check("x", "q", 0.894, 0.8951, 3, "decimals", "s").passed
    assert not Check("x", "q", 1.0, 1.00001, 1e-6, "relative", "s").passed
    assert Check("x", "q", 1.0, 1.0000001, 1e-6, "relative", "s").passed


@pytest.mark.skipif(not SHARED.is_dir(), reason="the team's reference collection is not beside the checkout")
def test_shipped_copy_equals_the_reference_collection() -> None:
    ours = reference_dir() / "sicily_smoking_ban"
    theirs = SHARED / "sicily_smoking_ban"
    for name in ("sicily.csv", "reference_models_R.csv", "README.md"):
        assert filecmp.cmp(ours / name, theirs / name, shallow=False), name

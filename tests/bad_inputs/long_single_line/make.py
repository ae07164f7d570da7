"""A 10 MB CSV with no line break (e.g. a JSON dump saved as .csv)."""

from __future__ import annotations


def make(dir):
    (dir / "data" / "harm.csv").write_text("x" * (10 * 1024 * 1024), encoding="ascii")

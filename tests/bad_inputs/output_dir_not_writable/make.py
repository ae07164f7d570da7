"""--out names a folder inside a folder the user cannot write (mode 0o500)."""

from __future__ import annotations


def make(dir):
    (dir / "locked").mkdir()
    (dir / "locked").chmod(0o500)

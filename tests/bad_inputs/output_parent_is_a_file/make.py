"""--out names a folder below a regular file; the file is executable, so access bits alone pass."""

from __future__ import annotations


def make(dir):
    (dir / "notes.txt").write_text("not a folder\n", encoding="utf-8")
    (dir / "notes.txt").chmod(0o755)
